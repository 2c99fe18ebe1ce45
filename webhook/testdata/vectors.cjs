// Checks vectors.json with Node's crypto alone: every "sign" case's
// headers, and every "verify" case's verdict. ed25519 cases are checked
// with crypto.sign and crypto.verify, the public keys read from whpk_ text.
const crypto = require("crypto");
const cases = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const key = (s) => (s.startsWith("whsec_") ? Buffer.from(s.slice(6), "base64") : Buffer.from(s, "utf8"));
const std = (secret, id, ts, body) => "v1," + crypto.createHmac("sha256", key(secret)).update(`${id}.${ts}.${body}`).digest("base64");
const hex = (secret, data) => crypto.createHmac("sha256", secret).update(data).digest("hex");
// whsk_ is base64 of the 32-byte seed: wrapped in PKCS #8 for Node.
const privateKey = (whsk) => crypto.createPrivateKey({
  key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(whsk.slice(5), "base64")]),
  format: "der", type: "pkcs8",
});
// whpk_ is base64 of the 32-byte public key: given to Node as a JWK.
const publicKey = (whpk) => crypto.createPublicKey({
  key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(whpk.slice(5), "base64").toString("base64url") }, format: "jwk",
});
const v1a = (whsk, id, ts, body) => "v1a," + crypto.sign(null, Buffer.from(`${id}.${ts}.${body}`), privateKey(whsk)).toString("base64");
let failed = 0;
for (const c of cases) {
  const ed = c.algorithm === "ed25519";
  if (c.kind === "sign") {
    const want = {
      "Webhook-Id": c.id,
      "Webhook-Timestamp": String(c.timestamp),
      "Webhook-Signature": c.secrets.map((s) => (ed ? v1a : std)(s, c.id, c.timestamp, c.body)).join(" "),
      "X-Hookbook-Timestamp": String(c.timestamp),
      "X-Hookbook-Signature": ed ? undefined : {
        timestamped: "sha256=" + hex(c.secrets[0], `${c.timestamp}.${c.body}`),
        body: "sha256=" + hex(c.secrets[0], c.body),
        body_hex: hex(c.secrets[0], c.body),
      }[c.scheme],
    };
    for (const [k, v] of Object.entries(want)) {
      if (c.headers[k] !== v) { failed++; console.log(`${c.name}: ${k} = ${c.headers[k]}, want ${v}`); }
    }
    if (ed) {
      c.secrets.forEach((s, i) => {
        const derived = "whpk_" + Buffer.from(crypto.createPublicKey(privateKey(s)).export({ format: "jwk" }).x, "base64url").toString("base64");
        if (derived !== c.public_keys[i]) { failed++; console.log(`${c.name}: public key ${c.public_keys[i]}, Node derives ${derived}`); }
      });
    }
  } else {
    const h = c.headers, id = h["Webhook-Id"], ts = h["Webhook-Timestamp"], sigs = h["Webhook-Signature"];
    let ok = Boolean(id && ts && sigs) && /^\d+$/.test(ts) && Math.abs(c.now - Number(ts)) <= 300;
    if (ok && ed) {
      const content = Buffer.from(`${id}.${ts}.${c.body}`);
      ok = sigs.split(" ").some((g) => g.startsWith("v1a,") &&
        c.public_keys.some((pk) => crypto.verify(null, content, publicKey(pk), Buffer.from(g.slice(4), "base64"))));
    } else if (ok) {
      const expected = c.secrets.map((s) => std(s, id, ts, c.body));
      ok = sigs.split(" ").some((g) => expected.some((e) => g.length === e.length && crypto.timingSafeEqual(Buffer.from(g), Buffer.from(e))));
    }
    if (ok !== c.valid) { failed++; console.log(`${c.name}: verified ${ok}, want ${c.valid}`); }
  }
}
if (failed) { process.exit(1); }
console.log(`ok ${cases.length} cases`);
