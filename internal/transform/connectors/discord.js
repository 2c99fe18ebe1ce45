// Discord incoming webhook: {"content": …}, at most 2000 characters, no
// mentions.
function handler(webhook) {
	let line = summary(webhook.eventType, webhook.payload.data);
	if (line.length > 2000) line = line.slice(0, 1999) + "…";
	webhook.payload = { content: line, allowed_mentions: { parse: [] } };
	return webhook;
}
