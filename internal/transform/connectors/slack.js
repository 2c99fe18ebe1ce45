// Slack incoming webhook: {"text": …}, with Slack's &, < and > escaped.
function handler(webhook) {
	const line = summary(webhook.eventType, webhook.payload.data)
		.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
	webhook.payload = { text: line };
	return webhook;
}
