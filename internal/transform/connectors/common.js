// A readable line for each built-in event; the chat connectors wrap it in
// their service's message shape. Times are shown in UTC.
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// when shows a time with its year, as "Wed 25 Mar 2026 14:00" (text that
// is no time as it is, escaped by esc).
function when(iso, esc) {
	const d = new Date(iso);
	if (isNaN(d.getTime())) return text(esc || String, iso);
	const two = (n) => (n < 10 ? "0" : "") + n;
	return DAYS[d.getUTCDay()] + " " + d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear() + " " +
		two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
}

function money(amount, currency) {
	if (typeof amount !== "number") return "";
	return (amount / 100).toFixed(2) + " " + (currency || "");
}

function people(n) {
	return n + (n === 1 ? " participant" : " participants");
}

// text is a value of the event's data as message text: on one line,
// escaped for the chat service by esc, at most 200 characters.
function text(esc, v) {
	let s = v == null ? "" : String(v).replace(/[\r\n\t]+/g, " ");
	if (s.length > 200) s = s.slice(0, 199) + "…";
	return esc(s);
}

function booking(esc, title, b, extra) {
	const service = (b.service && b.service.name) ? text(esc, b.service.name) : "a service";
	const customer = (b.customer && b.customer.name) ? text(esc, b.customer.name) : "";
	let line = title + ": " + service + ", " + when(b.starts_at, esc) + ", " + text(esc, people(b.participants));
	if (customer) line += " — " + customer;
	if (extra) line += " (" + extra + ")";
	return line;
}

// payment names the payment's booking, method and id, with the service and
// customer when the data carries them (here or in a booking object).
function payment(esc, title, amount, d) {
	let line = title + ": " + text(esc, money(amount, d.currency));
	if (d.method) line += " by " + text(esc, d.method);
	line += " for booking " + text(esc, d.booking_id || (d.booking && d.booking.id) || "");
	const b = d.booking || d;
	const about = [];
	if (b.service && b.service.name) about.push(text(esc, b.service.name));
	if (b.customer && b.customer.name) about.push(text(esc, b.customer.name));
	if (about.length) line += " (" + about.join(", ") + ")";
	if (d.id) line += ", payment " + text(esc, d.id);
	return line;
}

// fields shows up to 5 top-level fields of an event's data, compactly:
// name=value, with objects and arrays summarized.
function fields(esc, data) {
	if (data === null || typeof data !== "object" || Array.isArray(data)) return "";
	const keys = Object.keys(data);
	const shown = keys.slice(0, 5).map((k) => {
		const v = data[k];
		let s;
		if (v === null) s = "null";
		else if (Array.isArray(v)) s = "[" + v.length + (v.length === 1 ? " item]" : " items]");
		else if (typeof v === "object") s = "{…}";
		else s = String(v);
		if (s.length > 60) s = s.slice(0, 59) + "…";
		return text(esc, k.length > 40 ? k.slice(0, 39) + "…" : k) + "=" + text(esc, s);
	});
	if (keys.length > 5) shown.push("+" + (keys.length - 5) + " more");
	return shown.join(", ");
}

// summary is the message line of an event; esc escapes the text that
// comes from the event's data for the chat service (hookbook's own words
// are left as they are).
function summary(type, data, esc) {
	esc = esc || String;
	const d = data || {};
	const t = (v) => text(esc, v);
	switch (type) {
	case "booking.created": return booking(esc, "New booking", d);
	case "booking.confirmed": return booking(esc, "Booking confirmed", d);
	case "booking.rejected": return booking(esc, "Booking rejected", d, d.reason && t(d.reason));
	case "booking.cancelled": return booking(esc, "Booking cancelled", d, d.reason && t(d.reason));
	case "booking.updated": return booking(esc, "Booking updated", d);
	case "booking.rescheduled":
		return booking(esc, "Booking rescheduled", d, d.previous ? "was " + when(d.previous.starts_at, esc) : "");
	case "booking.completed": return booking(esc, "Booking completed", d);
	case "booking.no_show": return booking(esc, "No-show", d);
	case "booking.reminder": return booking(esc, "Reminder", d, d.offset ? "starts in " + t(d.offset) : "");
	case "booking.follow_up": return booking(esc, "Follow-up", d);
	case "payment.succeeded": return payment(esc, "Payment received", d.amount, d);
	case "payment.failed": return payment(esc, "Payment failed", d.amount, d) + (d.error_message ? " — " + t(d.error_message) : "");
	case "payment.refunded": return payment(esc, "Refund", d.refund_amount, d);
	case "customer.created": return "New customer: " + t(d.name) + (d.email ? " (" + t(d.email) + ")" : "");
	case "slot.created": return "New slot: " + when(d.starts_at, esc) + ", capacity " + t(d.capacity);
	case "review.created": return "New review: " + t(d.rating) + "/5" + (d.comment ? " — “" + t(d.comment) + "”" : "");
	case "community_event.approved": {
		const c = d.community_event || {};
		return "Community event “" + t(c.title) + "” approved by " + ((d.approval && d.approval.full_name) ? t(d.approval.full_name) : "someone") +
			" (" + t(c.approvals_count) + " of " + t(c.approvals_required) + ")";
	}
	case "community_event.activated": {
		const c = d.community_event || {};
		return "Community event “" + t(c.title) + "” is on: " + when(c.starts_at, esc);
	}
	case "endpoint.disabled": return "Endpoint disabled: " + t(d.url) + " — " + t(d.reason);
	case "webhook.test": return d.message ? t(d.message) : "Test event";
	}
	const f = fields(esc, data);
	return "Event " + t(type) + (f ? ": " + f : "");
}

// markdownEscaped escapes the characters Markdown (Discord's, and the
// Adaptive Cards' subset Teams renders) gives a meaning inside a line, and
// @, so that a customer's text shows as written: no link, emphasis, code,
// spoiler, mention or entity (text never starts a line: it is on one).
function markdownEscaped(s) {
	return s.replace(/[\\`*_~|<>\[\]()#&@]/g, "\\$&");
}

function titleOf(type) {
	return type.split(".").map((w) => w.charAt(0).toUpperCase() + w.slice(1).replace(/_/g, " ")).join(" ");
}
