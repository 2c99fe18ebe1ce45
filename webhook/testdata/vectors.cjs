// Checks vectors.json with Node's crypto alone: every "sign" case's
// headers, and every "verify" case's verdict.
const crypto = require("crypto");
const cases = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const key = (s) => (s.startsWith("whsec_") ? Buffer.from(s.slice(6), "base64") : Buffer.from(s, "utf8"));
const std = (secret, id, ts, body) => "v1," + crypto.createHmac("sha256", key(secret)).update(`${id}.${ts}.${body}`).digest("base64");
const hex = (secret, data) => crypto.createHmac("sha256", secret).update(data).digest("hex");
let failed = 0;
for (const c of cases) {
  if (c.kind === "sign") {
    const want = {
      "Webhook-Id": c.id,
      "Webhook-Timestamp": String(c.timestamp),
      "Webhook-Signature": c.secrets.map((s) => std(s, c.id, c.timestamp, c.body)).join(" "),
      "X-Hookbook-Timestamp": String(c.timestamp),
      "X-Hookbook-Signature": {
        timestamped: "sha256=" + hex(c.secrets[0], `${c.timestamp}.${c.body}`),
        body: "sha256=" + hex(c.secrets[0], c.body),
        body_hex: hex(c.secrets[0], c.body),
      }[c.scheme],
    };
    for (const [k, v] of Object.entries(want)) {
      if (c.headers[k] !== v) { failed++; console.log(`${c.name}: ${k} = ${c.headers[k]}, want ${v}`); }
    }
  } else {
    const h = c.headers, id = h["Webhook-Id"], ts = h["Webhook-Timestamp"], sigs = h["Webhook-Signature"];
    let ok = Boolean(id && ts && sigs) && /^\d+$/.test(ts) && Math.abs(c.now - Number(ts)) <= 300;
    if (ok) {
      const expected = c.secrets.map((s) => std(s, id, ts, c.body));
      ok = sigs.split(" ").some((g) => expected.some((e) => g.length === e.length && crypto.timingSafeEqual(Buffer.from(g), Buffer.from(e))));
    }
    if (ok !== c.valid) { failed++; console.log(`${c.name}: verified ${ok}, want ${c.valid}`); }
  }
}
if (failed) { process.exit(1); }
console.log(`ok ${cases.length} cases`);
