package outbound

import (
	"context"
	"fmt"
	"time"

	"github.com/hookbook/hookbook"
	"github.com/hookbook/hookbook/internal/db"
	"github.com/hookbook/hookbook/internal/ids"
)

// Volume counts deliveries by where they stand.
type Volume struct {
	Succeeded, Failed, Pending int
}

// Total is every delivery counted.
func (v Volume) Total() int { return v.Succeeded + v.Failed + v.Pending }

// SuccessRate is the percentage of finished deliveries that succeeded,
// rounded down; ok is false when none has finished.
func (v Volume) SuccessRate() (rate int, ok bool) {
	done := v.Succeeded + v.Failed
	if done == 0 {
		return 0, false
	}
	return v.Succeeded * 100 / done, true
}

func (v *Volume) add(status string, n int) {
	switch status {
	case hookbook.StatusSucceeded:
		v.Succeeded += n
	case hookbook.StatusFailed:
		v.Failed += n
	default:
		v.Pending += n
	}
}

// EndpointVolume returns the deliveries to an endpoint made in the hours
// before now, one Volume per hour, oldest first (hours of them).
func (s *Service) EndpointVolume(ctx context.Context, orgID, endpointID string, now time.Time, hours int) ([]Volume, error) {
	since := now.Truncate(time.Hour).Add(-time.Duration(hours-1) * time.Hour)
	rows, err := s.DB.QueryContext(ctx, `SELECT (created_at - $4) / 3600000000, status, count(*) FROM deliveries
		WHERE endpoint_id = $1 AND organization_id = $2 AND id >= $3 AND created_at >= $4
		GROUP BY 1, 2`,
		endpointID, orgID, ids.Before("dlv", since), db.Micros(since))
	if err != nil {
		return nil, fmt.Errorf("endpoint volume: %w", err)
	}
	defer rows.Close()
	out := make([]Volume, hours)
	for rows.Next() {
		var bucket int64
		var status string
		var n int
		if err := rows.Scan(&bucket, &status, &n); err != nil {
			return nil, fmt.Errorf("endpoint volume: %w", err)
		}
		if bucket >= 0 && bucket < int64(hours) {
			out[bucket].add(status, n)
		}
	}
	return out, rows.Err()
}

// EndpointsVolume returns the deliveries to each of an organization's
// endpoints made since since, in one query.
func (s *Service) EndpointsVolume(ctx context.Context, orgID string, endpointIDs []string, since time.Time) (map[string]Volume, error) {
	out := make(map[string]Volume, len(endpointIDs))
	if len(endpointIDs) == 0 {
		return out, nil
	}
	args := append([]any{orgID, ids.Before("dlv", since), db.Micros(since)}, db.Args(endpointIDs)...)
	rows, err := s.DB.QueryContext(ctx, `SELECT endpoint_id, status, count(*) FROM deliveries
		WHERE organization_id = $1 AND id >= $2 AND created_at >= $3 AND endpoint_id IN (`+db.Placeholders(4, len(endpointIDs))+`)
		GROUP BY 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("endpoints volume: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ep, status string
		var n int
		if err := rows.Scan(&ep, &status, &n); err != nil {
			return nil, fmt.Errorf("endpoints volume: %w", err)
		}
		v := out[ep]
		v.add(status, n)
		out[ep] = v
	}
	return out, rows.Err()
}

// Sum adds up volumes.
func Sum(vs []Volume) Volume {
	var t Volume
	for _, v := range vs {
		t.Succeeded += v.Succeeded
		t.Failed += v.Failed
		t.Pending += v.Pending
	}
	return t
}
