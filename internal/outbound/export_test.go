package outbound

import "context"

// SetReplayBatch makes each step of s's replays queue at most n deliveries.
func (s *Service) SetReplayBatch(n int) { s.testReplayBatch = n }

// ReplayStepOnce carries each running replay on by one batch, as a pass
// of RunReplays interrupted after it would.
func (s *Service) ReplayStepOnce(ctx context.Context) error {
	list, err := s.runningReplays(ctx)
	if err != nil {
		return err
	}
	for _, r := range list {
		if _, err := s.replayStep(ctx, r); err != nil {
			return err
		}
	}
	return nil
}
