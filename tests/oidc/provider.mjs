// A real OpenID provider (oidc-provider 9, a certified implementation) on 127.0.0.1 for the
// end-to-end tests: authorization code flow only, PKCE (S256) required of every client, ID
// tokens signed RS256 with a key made at start (published at the discovery's jwks_uri).
//
//   node tests/oidc/provider.mjs '{"port": 0, "clients": [{"client_id": "gw", "client_secret": "s3cret",
//       "redirect_uris": ["http://127.0.0.1:PORT/oauth/callback"]}], "access_token_ttl": 60, "id_token_ttl": 60}'
//   (or the same JSON in the environment variable OIDC_CONFIG)
//
// Prints one line to stdout once listening, {"issuer": "http://127.0.0.1:PORT"} (port 0: a free
// one), and runs until SIGTERM/SIGINT (exit 0). Everything else goes to stderr.
//
// Accounts: any login name with any password. sub = email = the login name; email_verified is
// true unless the name starts with "unverified+". Scopes openid and email; with email granted the
// ID token itself carries email and email_verified (conformIdTokenClaims: false).
//
// More clients at run time: POST /_test/clients with one client's JSON (same fields as in
// "clients") registers it (201 {"client_id"}; 400 for invalid metadata or a client_id from the start
// configuration; posting the same client_id again replaces it). So a test can start the provider
// first, then the gateway on a port of its own, then register {gateway}/oauth/callback.
//
// Interactions are this file's own pages, not oidc-provider's devInteractions:
//   GET  /interaction/:uid  the login form (inputs `login`, `password`, button "Sign in") or the
//                           consent form (buttons "Continue" and "Deny")
//   POST /interaction/:uid/login, /interaction/:uid/consent (action=continue|deny)
// Deny ends the authorization with error=access_denied, error_description "the viewer denied
// consent" at the client's redirect URI (with state and iss). Consent is asked on a client's first
// authorization in a browser session; later ones (same cookies) go straight back to the client.
import http from 'node:http';
import { randomBytes } from 'node:crypto';

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

// oidc-provider writes notices with console.info (stdout): keep stdout for the issuer line only,
// and drop its warnings about Node 20 (it works) and the in-memory store (meant here).
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);
const warn = console.warn.bind(console);
console.warn = (...args) => {
  if (/Unsupported runtime|in-memory adapter/.test(String(args[0]))) return;
  warn(...args);
};

const { default: Provider } = await import('oidc-provider');
const { generateKeyPair, exportJWK } = await import('jose');

const raw = process.argv[2] ?? process.env.OIDC_CONFIG;
if (!raw) {
  console.error('usage: provider.mjs \'{"port": 0, "clients": [{"client_id": ..., "client_secret": ..., "redirect_uris": [...]}], "access_token_ttl": 60, "id_token_ttl": 60}\' (or OIDC_CONFIG)');
  process.exit(2);
}
const config = JSON.parse(raw);
const accessTokenTtl = Number(config.access_token_ttl ?? 60);
const idTokenTtl = Number(config.id_token_ttl ?? 60);

// Listen first: the issuer must name the port, and port 0 picks it.
let handler = (_req, res) => { res.statusCode = 503; res.end(); };
const server = http.createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number(config.port ?? 0), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };

const clientDefaults = {
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'RS256',
};
const staticIds = new Set((config.clients ?? []).map((client) => client.client_id));

const provider = new Provider(issuer, {
  clients: (config.clients ?? []).map((client) => ({ ...clientDefaults, ...client })),
  jwks: { keys: [signingKey] },
  responseTypes: ['code'],
  pkce: { required: () => true },
  scopes: ['openid', 'email'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false,
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: id, email_verified: !id.startsWith('unverified+') };
      },
    };
  },
  ttl: {
    AccessToken: accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: idTokenTtl,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  features: {
    devInteractions: { enabled: false },
    // Every feature this provider does not need stays off.
    revocation: { enabled: false },
    introspection: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  // Plain http on 127.0.0.1: oidc-provider marks its cookies Secure only over https (ctx.secure),
  // so they work here as they are. The names carry an oidc_ prefix: cookies are per host, not per
  // port, so the gateway on the same 127.0.0.1 sees them (and they must not clash with its own).
  cookies: {
    keys: [randomBytes(32).toString('hex')],
    names: { session: 'oidc_session', interaction: 'oidc_interaction', resume: 'oidc_interaction_resume' },
  },
});

// Clients registered at run time (POST /_test/clients), for a test that starts the provider before
// the gateway whose port makes the redirect URI. Kept apart from oidc-provider's bounded store.
const runtimeClients = new Map();
const clientStore = provider.Client.adapter;
const storedClient = clientStore.find.bind(clientStore);
clientStore.find = async (id) => runtimeClients.get(id) ?? storedClient(id);

async function registerClient(req, res) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  let metadata;
  try {
    metadata = { ...clientDefaults, ...JSON.parse(Buffer.concat(chunks).toString('utf8')) };
    if (staticIds.has(metadata.client_id)) throw new Error(`client ${metadata.client_id} is in the start configuration`);
    await provider.Client.validate(metadata);
  } catch (err) {
    res.writeHead(400, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ error: 'invalid_client_metadata', error_description: err.error_description ?? err.message }));
    return;
  }
  runtimeClients.set(metadata.client_id, metadata);
  res.writeHead(201, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ client_id: metadata.client_id }));
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto}input,button{display:block;margin:.5em 0;font-size:1em;padding:.3em}
form.consent button{display:inline-block;margin-right:1em}</style></head>
<body><h1>${escape(title)}</h1>${body}</body></html>`;
}

function send(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(req, res, uid, step) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    send(res, 400, page('Error', '<p>This sign-in has expired or belongs to another window.</p>'));
    return;
  }
  const { prompt, params, session } = details;

  if (req.method === 'GET' && !step) {
    if (prompt.name === 'login') {
      send(res, 200, page('Sign in', `
<p>Sign in to continue to <b>${escape(params.client_id)}</b>. Any login name, any password.</p>
<form class="login" method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
  <input required type="text" name="login" placeholder="Login name" autofocus>
  <input required type="password" name="password" placeholder="Password">
  <button type="submit">Sign in</button>
</form>`));
    } else if (prompt.name === 'consent') {
      const scopes = (details.prompt.details.missingOIDCScope ?? []).filter((s) => s !== 'openid');
      send(res, 200, page('Authorize', `
<p><b>${escape(params.client_id)}</b> asks for your identity${scopes.length ? ` and: ${scopes.map(escape).join(', ')}` : ''}.</p>
<p>Signed in as <b>${escape(session?.accountId ?? '')}</b>.</p>
<form class="consent" method="post" action="/interaction/${escape(uid)}/consent">
  <button type="submit" name="action" value="continue" autofocus>Continue</button>
  <button type="submit" name="action" value="deny">Deny</button>
</form>`));
    } else {
      send(res, 501, page('Error', `<p>Unsupported prompt ${escape(prompt.name)}.</p>`));
    }
    return;
  }

  if (req.method === 'POST' && step === 'login' && prompt.name === 'login') {
    const form = await readForm(req);
    const login = form.get('login')?.trim();
    if (!login) {
      send(res, 400, page('Sign in', '<p>A login name is required.</p>'));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }

  if (req.method === 'POST' && step === 'consent' && prompt.name === 'consent') {
    const form = await readForm(req);
    if (form.get('action') !== 'continue') {
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'the viewer denied consent',
      }, { mergeWithLastSubmission: false });
      return;
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }

  send(res, 400, page('Error', '<p>Unexpected step.</p>'));
}

const providerCallback = provider.callback();
handler = (req, res) => {
  const { pathname } = new URL(req.url, issuer);
  if (req.method === 'POST' && pathname === '/_test/clients') {
    registerClient(req, res).catch((err) => { console.error(err); res.destroy(); });
    return;
  }
  const match = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|consent))?$/.exec(pathname);
  if (!match) {
    providerCallback(req, res);
    return;
  }
  interaction(req, res, match[1], match[2]).catch((err) => {
    console.error('interaction error:', err);
    if (!res.headersSent) {
      send(res, err.statusCode ?? 500, page('Error', `<p>${escape(err.error_description ?? err.message)}</p>`));
    } else {
      res.end();
    }
  });
};

provider.on('server_error', (_ctx, err) => console.error('server_error:', err));

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
