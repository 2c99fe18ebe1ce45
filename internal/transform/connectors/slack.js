// Slack incoming webhook: {"text": …}, with Slack's &, < and > escaped.
function handler(webhook) {
	let line = summary(webhook.eventType, webhook.payload.data);
	if (line.indexOf("&") >= 0) line = line.split("&").join("&amp;");
	if (line.indexOf("<") >= 0) line = line.split("<").join("&lt;");
	if (line.indexOf(">") >= 0) line = line.split(">").join("&gt;");
	webhook.payload = { text: line };
	return webhook;
}
