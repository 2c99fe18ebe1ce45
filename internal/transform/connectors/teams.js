// Microsoft Teams incoming webhook (workflow): a message with one Adaptive
// Card naming the event and its summary, the event's text with its
// Markdown escaped (TextBlocks render Markdown).
function handler(webhook) {
	const line = summary(webhook.eventType, webhook.payload.data, markdownEscaped);
	webhook.payload = {
		type: "message",
		attachments: [{
			contentType: "application/vnd.microsoft.card.adaptive",
			content: {
				$schema: "http://adaptivecards.io/schemas/adaptive-card.json",
				type: "AdaptiveCard",
				version: "1.4",
				body: [
					{ type: "TextBlock", text: markdownEscaped(titleOf(webhook.eventType)), weight: "Bolder", size: "Medium", wrap: true },
					{ type: "TextBlock", text: line, wrap: true },
				],
			},
		}],
	};
	return webhook;
}
