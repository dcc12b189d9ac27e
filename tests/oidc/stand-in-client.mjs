// A stand-in for the gateway's side of the dance, to check provider.mjs, rogue.mjs and
// tests/browser/oauth-dance.mjs without the gateway: a confidential client (client_secret_basic)
// doing authorization code + PKCE (S256) + nonce + state, checking the RFC 9207 `iss` and the ID
// token (signature from the JWKS, iss, aud, exp, nonce).
//
//   node tests/oidc/stand-in-client.mjs '{"port": 0, "issuer": "http://127.0.0.1:P",
//       "client_id": "gw", "client_secret": "s3cret", "document": "bytes to download"}'
//
// Prints {"url": "http://127.0.0.1:N"} once listening. Routes:
//   GET /doc             landing page (a.open) if the browser has a session here, else 302 to the
//                        provider's authorization endpoint
//   GET /oauth/callback  checks and exchanges the code; 200 landing page + session cookie, or 403
//                        (error from the provider) / 502 (bad token response) with the reason
//   GET /file            the document, as an attachment (session required)
//   GET /last            JSON: the last token response's fields and the ID token's decoded claims
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, decodeJwt } from 'jose';

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

const config = JSON.parse(process.argv[2] ?? process.env.STAND_IN_CONFIG);
const b64url = (buf) => buf.toString('base64url');
const discovery = await (await fetch(`${config.issuer}/.well-known/openid-configuration`)).json();
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
const pending = new Map(); // state -> { verifier, nonce }
const sessions = new Map(); // session cookie -> claims
let last = null;
let origin;

function html(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Stand-in gateway</title></head><body>${body}</body></html>`);
}
const landing = (claims) => `<p>Signed in as ${claims.email}</p><a class="open" href="/file">Open the document</a>`;
const session = (req) => sessions.get(/(?:^|;\s*)standin=([^;]+)/.exec(req.headers.cookie ?? '')?.[1]);

async function callback(url, res) {
  const state = url.searchParams.get('state');
  const flow = pending.get(state);
  pending.delete(state);
  if (!flow) return html(res, 400, '<p>unknown state</p>');
  if (url.searchParams.get('iss') !== discovery.issuer) return html(res, 502, '<p>iss mismatch</p>');
  if (url.searchParams.get('error')) {
    last = { error: url.searchParams.get('error'), error_description: url.searchParams.get('error_description') };
    return html(res, 403, `<p id="error">${url.searchParams.get('error')}</p>`);
  }
  let response;
  try {
    response = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${encodeURIComponent(config.client_id)}:${encodeURIComponent(config.client_secret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: url.searchParams.get('code'),
        redirect_uri: `${origin}/oauth/callback`,
        code_verifier: flow.verifier,
      }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (err) {
    last = { failure: `token request: ${err.name}` };
    return html(res, 502, `<p id="error">${last.failure}</p>`);
  }
  const tokens = await response.json().catch(() => ({}));
  last = { status: response.status, ...tokens, claims: tokens.id_token ? decodeJwt(tokens.id_token) : undefined };
  if (!response.ok) return html(res, 502, `<p id="error">token endpoint ${response.status}</p>`);
  try {
    const { payload } = await jwtVerify(tokens.id_token, jwks, { issuer: discovery.issuer, audience: config.client_id });
    if (payload.nonce !== flow.nonce) throw new Error('nonce mismatch');
    const id = b64url(randomBytes(16));
    sessions.set(id, payload);
    return html(res, 200, landing(payload), { 'Set-Cookie': `standin=${id}; Path=/; HttpOnly; SameSite=Lax` });
  } catch (err) {
    last.failure = `${err.code ?? 'ERR'}: ${err.message}`;
    return html(res, 502, `<p id="error">${last.failure}</p>`);
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, origin);
  if (url.pathname === '/doc') {
    const claims = session(req);
    if (claims) return html(res, 200, landing(claims));
    const state = b64url(randomBytes(16));
    const flow = { verifier: b64url(randomBytes(32)), nonce: b64url(randomBytes(16)) };
    pending.set(state, flow);
    const auth = new URL(discovery.authorization_endpoint);
    auth.search = new URLSearchParams({
      response_type: 'code',
      client_id: config.client_id,
      redirect_uri: `${origin}/oauth/callback`,
      scope: 'openid email',
      state,
      nonce: flow.nonce,
      code_challenge: b64url(createHash('sha256').update(flow.verifier).digest()),
      code_challenge_method: 'S256',
    });
    res.writeHead(302, { Location: auth.href });
    return res.end();
  }
  if (url.pathname === '/oauth/callback') {
    return callback(url, res).catch((err) => html(res, 500, `<p>${err.message}</p>`));
  }
  if (url.pathname === '/file' && session(req)) {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Disposition': 'attachment; filename="document.bin"' });
    return res.end(config.document ?? 'the sealed document');
  }
  if (url.pathname === '/last') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify(last));
  }
  return html(res, 404, '<p>not found</p>');
});
server.listen(Number(config.port ?? 0), '127.0.0.1', () => {
  origin = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`${JSON.stringify({ url: origin })}\n`);
});
