// A readable line for each built-in event; the chat connectors wrap it in
// their service's message shape. Times are shown in UTC.
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function when(iso) {
	const d = new Date(iso);
	if (isNaN(d.getTime())) return String(iso || "");
	const two = (n) => (n < 10 ? "0" : "") + n;
	return DAYS[d.getUTCDay()] + " " + d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " +
		two(d.getUTCHours()) + ":" + two(d.getUTCMinutes());
}

function money(amount, currency) {
	if (typeof amount !== "number") return "";
	return (amount / 100).toFixed(2) + " " + (currency || "");
}

function people(n) {
	return n + (n === 1 ? " participant" : " participants");
}

function booking(title, b, extra) {
	const service = (b.service && b.service.name) || "a service";
	const customer = (b.customer && b.customer.name) || "";
	let line = title + ": " + service + ", " + when(b.starts_at) + ", " + people(b.participants);
	if (customer) line += " — " + customer;
	if (extra) line += " (" + extra + ")";
	return line;
}

function summary(type, data) {
	const d = data || {};
	switch (type) {
	case "booking.created": return booking("New booking", d);
	case "booking.confirmed": return booking("Booking confirmed", d);
	case "booking.rejected": return booking("Booking rejected", d, d.reason);
	case "booking.cancelled": return booking("Booking cancelled", d, d.reason);
	case "booking.updated": return booking("Booking updated", d);
	case "booking.rescheduled":
		return booking("Booking rescheduled", d, d.previous ? "was " + when(d.previous.starts_at) : "");
	case "booking.completed": return booking("Booking completed", d);
	case "booking.no_show": return booking("No-show", d);
	case "booking.reminder": return booking("Reminder", d, d.offset ? "starts in " + d.offset : "");
	case "booking.follow_up": return booking("Follow-up", d);
	case "payment.succeeded": return "Payment received: " + money(d.amount, d.currency) + " for booking " + d.booking_id;
	case "payment.failed": return "Payment failed: " + money(d.amount, d.currency) + " for booking " + d.booking_id +
		(d.error_message ? " — " + d.error_message : "");
	case "payment.refunded": return "Refund: " + money(d.refund_amount, d.currency) + " for booking " + d.booking_id;
	case "customer.created": return "New customer: " + d.name + (d.email ? " (" + d.email + ")" : "");
	case "slot.created": return "New slot: " + when(d.starts_at) + ", capacity " + d.capacity;
	case "review.created": return "New review: " + d.rating + "/5" + (d.comment ? " — “" + d.comment + "”" : "");
	case "community_event.approved": {
		const c = d.community_event || {};
		return "Community event “" + c.title + "” approved by " + ((d.approval && d.approval.full_name) || "someone") +
			" (" + c.approvals_count + " of " + c.approvals_required + ")";
	}
	case "community_event.activated": {
		const c = d.community_event || {};
		return "Community event “" + c.title + "” is on: " + when(c.starts_at);
	}
	case "endpoint.disabled": return "Endpoint disabled: " + d.url + " — " + d.reason;
	case "webhook.test": return d.message || "Test event";
	}
	return "Event " + type;
}

function titleOf(type) {
	return type.split(".").map((w) => w.charAt(0).toUpperCase() + w.slice(1).replace(/_/g, " ")).join(" ");
}
