// Discord incoming webhook: {"content": …}, at most 2000 characters, no
// mentions; the event's text has its Markdown escaped.
function handler(webhook) {
	let line = summary(webhook.eventType, webhook.payload.data, markdownEscaped);
	if (line.length > 2000) line = line.slice(0, 1999).replace(/\\+$/, (b) => b.slice(0, b.length - (b.length % 2))) + "…";
	webhook.payload = { content: line, allowed_mentions: { parse: [] } };
	return webhook;
}
