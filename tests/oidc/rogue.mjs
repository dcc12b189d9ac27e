// A deliberately misbehaving OpenID provider for the gateway's failure tests (node:http + jose).
// It looks like an ordinary provider (discovery, JWKS, code flow, PKCE S256 checked), and its
// `mode` decides how it misbehaves:
//
//   ok             a correct ID token (iss, aud = client_id, nonce, iat, exp in 60 s, sub, email,
//                  email_verified true), access_token, token_type Bearer, expires_in 60
//   wrong_aud      aud is another client's
//   wrong_iss      iss is another issuer's
//   wrong_nonce    nonce is not the one the client sent
//   expired        exp (and iat) 10 minutes in the past
//   bad_signature  signed by a key not in the JWKS (under the published key's kid)
//   slow           the token response comes after 30 s (a correct one, if anyone still waits)
//   error500       the token endpoint answers HTTP 500
//   deny           /authorize redirects back with error=access_denied instead of a code
//
//   node tests/oidc/rogue.mjs '{"port": 0, "mode": "ok", "login": "viewer@example.com"}'
//   (or the same JSON in the environment variable OIDC_CONFIG; mode defaults to ok)
//
// Prints {"issuer": "http://127.0.0.1:PORT"} once listening; runs until SIGTERM/SIGINT (exit 0).
// Routes: GET /.well-known/openid-configuration, GET /jwks, GET /authorize (302 to redirect_uri
// with code, state and iss, any client_id and redirect_uri accepted), POST /token (client
// authentication by client_secret_basic or client_secret_post, any secret; the code is single-use:
// again, or unknown, is 400 invalid_grant; so is a code_verifier that does not match), GET
// /userinfo (Bearer), GET /mode (the mode), GET /mode?set=MODE (switch it; 400 for an unknown
// one), GET /stats ({"authorize": n, "token": n} requests so far).
// sub and email are `login_hint` from the authorization request, else the config's "login"
// (default viewer@example.com).
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

const MODES = ['ok', 'wrong_aud', 'wrong_iss', 'wrong_nonce', 'expired', 'bad_signature', 'slow', 'error500', 'deny'];
const raw = process.argv[2] ?? process.env.OIDC_CONFIG ?? '{}';
const config = JSON.parse(raw);
let mode = config.mode ?? 'ok';
if (!MODES.includes(mode)) {
  console.error(`rogue.mjs: unknown mode ${mode} (one of ${MODES.join(', ')})`);
  process.exit(2);
}
const defaultLogin = config.login ?? 'viewer@example.com';

const kid = randomBytes(8).toString('hex');
const good = await generateKeyPair('RS256');
const evil = await generateKeyPair('RS256');
const publicJwk = { ...(await exportJWK(good.publicKey)), kid, alg: 'RS256', use: 'sig' };

const codes = new Map(); // code -> { client_id, redirect_uri, nonce, code_challenge, login }
const accessTokens = new Map(); // access token -> login
const stats = { authorize: 0, token: 0 };
let issuer;

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function discovery() {
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    userinfo_endpoint: `${issuer}/userinfo`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'email', 'email_verified'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
  };
}

function authorize(url, res) {
  stats.authorize += 1;
  const q = url.searchParams;
  const redirectUri = q.get('redirect_uri');
  if (!redirectUri || !q.get('client_id')) {
    json(res, 400, { error: 'invalid_request', error_description: 'client_id and redirect_uri are required' });
    return;
  }
  const back = new URL(redirectUri);
  if (mode === 'deny') {
    back.searchParams.set('error', 'access_denied');
    back.searchParams.set('error_description', 'the viewer denied consent');
  } else {
    const code = b64url(randomBytes(24));
    codes.set(code, {
      client_id: q.get('client_id'),
      redirect_uri: redirectUri,
      nonce: q.get('nonce'),
      code_challenge: q.get('code_challenge'),
      code_challenge_method: q.get('code_challenge_method'),
      login: q.get('login_hint') || defaultLogin,
    });
    back.searchParams.set('code', code);
  }
  if (q.has('state')) back.searchParams.set('state', q.get('state'));
  back.searchParams.set('iss', issuer);
  res.writeHead(302, { Location: back.href, 'Cache-Control': 'no-store' });
  res.end();
}

function clientId(req, form) {
  const header = req.headers.authorization ?? '';
  if (/^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) return decodeURIComponent(decoded.slice(0, i).replace(/\+/g, ' '));
  }
  return form.get('client_secret') ? form.get('client_id') : null;
}

async function token(req, res) {
  stats.token += 1;
  const form = await readForm(req);
  const client = clientId(req, form);
  if (!client) {
    json(res, 401, { error: 'invalid_client', error_description: 'client authentication required' });
    return;
  }
  if (form.get('grant_type') !== 'authorization_code') {
    json(res, 400, { error: 'unsupported_grant_type' });
    return;
  }
  const code = form.get('code');
  const grant = codes.get(code);
  codes.delete(code); // single-use, whatever happens next
  const verifier = form.get('code_verifier') ?? '';
  if (!grant || grant.client_id !== client
      || (form.has('redirect_uri') && form.get('redirect_uri') !== grant.redirect_uri)
      || grant.code_challenge_method !== 'S256'
      || b64url(createHash('sha256').update(verifier).digest()) !== grant.code_challenge) {
    json(res, 400, { error: 'invalid_grant' });
    return;
  }

  if (mode === 'error500') {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('internal server error');
    return;
  }
  if (mode === 'slow') await sleep(30_000);

  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: grant.login,
    email: grant.login,
    email_verified: true,
    nonce: mode === 'wrong_nonce' ? 'not-the-nonce-you-sent' : grant.nonce ?? undefined,
  };
  const iat = mode === 'expired' ? now - 600 : now;
  const idToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
    .setIssuer(mode === 'wrong_iss' ? `${issuer}/not-this-issuer` : issuer)
    .setAudience(mode === 'wrong_aud' ? 'another-client' : grant.client_id)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .sign(mode === 'bad_signature' ? evil.privateKey : good.privateKey);
  const accessToken = b64url(randomBytes(24));
  accessTokens.set(accessToken, grant.login);
  if (req.socket.destroyed) return; // the client gave up (slow)
  json(res, 200, {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: 60,
    scope: 'openid email',
    id_token: idToken,
  });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer);
  const route = `${req.method} ${url.pathname}`;
  if (route === 'GET /.well-known/openid-configuration') return json(res, 200, discovery());
  if (route === 'GET /jwks') return json(res, 200, { keys: [publicJwk] });
  if (route === 'GET /authorize') return authorize(url, res);
  if (route === 'POST /token') {
    return token(req, res).catch((err) => {
      console.error('rogue.mjs: /token:', err);
      if (!res.headersSent) json(res, 500, { error: 'server_error' });
    });
  }
  if (route === 'GET /userinfo') {
    const login = accessTokens.get((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    if (!login) return json(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    return json(res, 200, { sub: login, email: login, email_verified: true });
  }
  if (route === 'GET /mode') {
    const wanted = url.searchParams.get('set');
    if (wanted !== null) {
      if (!MODES.includes(wanted)) return json(res, 400, { error: `unknown mode ${wanted}`, modes: MODES });
      mode = wanted;
    }
    return json(res, 200, { mode });
  }
  if (route === 'GET /stats') return json(res, 200, stats);
  return json(res, 404, { error: 'not_found' });
});

server.listen(Number(config.port ?? 0), '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
