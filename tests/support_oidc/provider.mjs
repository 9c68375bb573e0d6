// A tiny OpenID Connect provider for the single sign-on tests: oidc-provider on loopback, a fixed set of
// test accounts, and a login page plain HTTP form posts can drive (no JavaScript, no CSRF token: a test
// provider, never to be reached from outside this machine).
//
//   node tests/support_oidc/provider.mjs
//
// Configured by environment (tests/integration/test_oidc_client.py sets it):
//   OIDC_PORT            the loopback port to listen on (required)
//   OIDC_ISSUER          the issuer it announces (default http://127.0.0.1:OIDC_PORT)
//   OIDC_CLIENTS         JSON list of {client_id, client_secret, redirect_uris}
//   OIDC_ID_TOKEN_CLAIMS "1": put the scopes' claims (email, name, staff_no) in the ID token too; by default
//                        they are only at the userinfo endpoint, as oidc-provider (and many a university's
//                        provider) does
//
// The login page: GET /interaction/<uid> shows a form with one field, `account` (t001, t002, ...); POST
// /interaction/<uid>/login signs that account in, POST /interaction/<uid>/abort answers the client with
// access_denied. Consent is granted at once: the tests are about the client, not about the provider's
// consent screen.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const ACCOUNTS = {
  t001: { email: 'wang@seu.edu.cn', email_verified: true, name: '王老师', staff_no: '2020001' },
  // a second address, typed with capitals and spaces as some directories keep it
  t002: { email: ' Li.Ming@WUST.edu.cn ', email_verified: true, name: '李明', staff_no: '2020002' },
  // a staff number and no e-mail: a provider that does not release addresses
  t003: { name: '赵老师', staff_no: '2020003' },
  // an address the provider itself has not verified
  t004: { email: 'unverified@seu.edu.cn', email_verified: false, name: '钱老师', staff_no: '2020004' },
  // a newcomer the tenant has no account of yet, found (or not) by staff number
  t005: { email: 'sun@seu.edu.cn', email_verified: true, name: '孙老师', staff_no: '2020005' },
  // a staff number the platform cannot record (a slash), as some directories write them
  t006: { email: 'zhou@seu.edu.cn', email_verified: true, name: '周老师', staff_no: 'JS/2020-6' },
  // an address that already has an account, before its staff number is recorded on it
  t007: { email: 'zheng@seu.edu.cn', email_verified: true, name: '郑老师', staff_no: '2020007' },
};

const port = Number(process.env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('OIDC_PORT must be a port number, for example OIDC_PORT=8765');
  process.exit(2);
}
const issuer = process.env.OIDC_ISSUER || `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || '[]').map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  redirect_uris: c.redirect_uris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
}));

// A fresh signing key every start: nothing the tests rely on may depend on a key kept anywhere.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `test-${Date.now()}`, use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: ['test-provider-cookies-not-a-secret'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    staff: ['staff_no'],
  },
  scopes: ['openid', 'email', 'profile', 'staff'],
  conformIdTokenClaims: process.env.OIDC_ID_TOKEN_CLAIMS !== '1',
  // Every client must send PKCE, so a client that forgets it fails here instead of at a real provider.
  pkce: { methods: ['S256'], required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const account = ACCOUNTS[sub];
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...account }) };
  },
});

function page(res, status, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><meta charset="utf-8"><title>测试身份提供方</title>${body}`);
}

function loginForm(uid, problem = '') {
  return `<form method="post" action="/interaction/${uid}/login">
    ${problem ? `<p class="problem">${problem}</p>` : ''}
    <label>账号 <input name="account" autofocus></label> <button>登录</button>
  </form>
  <form method="post" action="/interaction/${uid}/abort"><button>取消</button></form>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10000) break;
  }
  return new URLSearchParams(body);
}

async function grantConsent(req, res, details) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    page(res, 400, '<p>登录请求与会话不符。</p>');
    return;
  }
  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'consent') {
      await grantConsent(req, res, details);
    } else {
      page(res, 200, loginForm(uid));
    }
    return;
  }
  if (req.method === 'POST' && action === 'login') {
    const account = (await readForm(req)).get('account') || '';
    if (!ACCOUNTS[account]) {
      page(res, 400, loginForm(uid, `没有账号“${account.replace(/[<>&"]/g, '')}”。`));
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: account } }, { mergeWithLastSubmission: false });
    return;
  }
  if (req.method === 'POST' && action === 'abort') {
    const result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    return;
  }
  page(res, 404, '<p>没有这个页面。</p>');
}

const callback = provider.callback();
const server = createServer((req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(new URL(req.url, issuer).pathname);
  if (!match) {
    callback(req, res);
    return;
  }
  interaction(req, res, match[1], match[2]).catch((err) => {
    console.error('interaction failed:', err);
    if (!res.headersSent) page(res, 400, `<p>${String(err.message).replace(/[<>&"]/g, '')}</p>`);
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`test OpenID Connect provider ${issuer} on 127.0.0.1:${port} with clients ${clients.map((c) => c.client_id)}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  // nothing to flush: every grant and session lives in memory and dies with the process
  process.on(signal, () => process.exit(0));
}
