package transform

import (
	"embed"
	"slices"
)

// Connector is a ready-made transformation that turns each built-in event
// into a readable chat message for one service's incoming webhooks.
type Connector struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Code is the transformation: connectors/common.js then the service's own.
	Code string `json:"code"`
}

//go:embed connectors/*.js
var connectorFiles embed.FS

func connectorCode(name string) string {
	common, _ := connectorFiles.ReadFile("connectors/common.js")
	own, _ := connectorFiles.ReadFile("connectors/" + name + ".js")
	return string(common) + "\n" + string(own)
}

var connectors = []Connector{
	{Name: "slack", Title: "Slack", Description: "Posts each event as a line of text to a Slack incoming webhook (https://hooks.slack.com/services/…).",
		Code: connectorCode("slack")},
	{Name: "teams", Title: "Microsoft Teams", Description: "Posts each event as an Adaptive Card to a Microsoft Teams incoming webhook or workflow URL.",
		Code: connectorCode("teams")},
	{Name: "discord", Title: "Discord", Description: "Posts each event as a message to a Discord channel webhook (https://discord.com/api/webhooks/…), mentioning no one.",
		Code: connectorCode("discord")},
}

// Connectors returns the chat connectors, by name.
func Connectors() []Connector { return slices.Clone(connectors) }

// LookupConnector returns the connector of a name.
func LookupConnector(name string) (Connector, bool) {
	for _, c := range connectors {
		if c.Name == name {
			return c, true
		}
	}
	return Connector{}, false
}
