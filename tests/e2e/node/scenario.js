// Drives the official `sendpulse-api` Node client against a live Pulsebox and prints ONE JSON object
// with every answer it got. Run it with the redirect preload:
//
//   PULSEBOX_E2E_PORT=8000 PULSEBOX_CLIENT_ID=... PULSEBOX_CLIENT_SECRET=... \
//   PULSEBOX_TOKEN_DIR=/tmp/tok PULSEBOX_MAIL_DIR=$PULSEBOX_DATA_DIR/mail \
//   node -r ./redirect.js scenario.js [full|token|badcreds|smtp]
//
// Modes: full (default) uses address books, contacts, senders (activation code read from the captured
// Maildir), blacklist and balance; token makes one call (to exercise a stale cached token);
// badcreds calls init with a wrong secret; smtp sends one email with smtpSendMail (from
// PULSEBOX_E2E_SMTP_FROM, an active sender, to PULSEBOX_E2E_SMTP_TO) and reads it back by its id. The client answers every call through a callback and hands
// over the response body whatever the HTTP status, so `is_error` in a body is its only error signal.
'use strict';

const fs = require('fs');
const path = require('path');
const sendpulse = require('sendpulse-api');

const env = process.env;
const MODE = process.argv[2] || 'full';
const TAG = env.PULSEBOX_E2E_TAG || String(Date.now());
const TIMEOUT_MS = parseInt(env.PULSEBOX_E2E_TIMEOUT_MS || '60000', 10);
const MAIL_WAIT_MS = parseInt(env.PULSEBOX_E2E_MAIL_WAIT_MS || '10000', 10);

const results = {mode: MODE, tag: TAG, steps: []};

function finish(code) {
    process.stdout.write(JSON.stringify(results) + '\n', () => process.exit(code));
}

// Bounded: the client retries forever on some 401s, so report what we have and stop.
const watchdog = setTimeout(() => {
    results.timeout = `scenario did not finish within ${TIMEOUT_MS} ms; last step: ${results.steps[results.steps.length - 1]}`;
    finish(3);
}, TIMEOUT_MS);

// Every client method takes the callback first: call(fn, args...) -> Promise of the answer.
function call(name, ...args) {
    results.steps.push(name);
    return new Promise((resolve) => sendpulse[name](resolve, ...args));
}

function raw(path, method, data) {
    results.steps.push(`sendRequest ${method} ${path}`);
    return new Promise((resolve) => sendpulse.sendRequest(path, method, data, resolve));
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- captured mail (Maildir written by Pulsebox's capture transport) ---------------------------- //

function mailFiles(mailDir) {
    const out = [];
    for (const sub of ['new', 'cur']) {
        const dir = path.join(mailDir, sub);
        if (!fs.existsSync(dir)) continue;
        for (const name of fs.readdirSync(dir)) {
            if (!name.startsWith('.')) out.push(path.join(dir, name));
        }
    }
    return out;
}

function decodeQuotedPrintable(text) {
    const bytes = [];
    const raw = text.replace(/=\r?\n/g, '');
    for (let i = 0; i < raw.length; i++) {
        if (raw[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(raw.substr(i + 1, 2))) {
            bytes.push(parseInt(raw.substr(i + 1, 2), 16));
            i += 2;
        } else {
            bytes.push(...Buffer.from(raw[i], 'utf8'));
        }
    }
    return Buffer.from(bytes).toString('utf8');
}

// Minimal MIME walk: enough to find the text of a message the server built (any transfer encoding).
function mimeText(raw) {
    const split = raw.search(/\r?\n\r?\n/);
    const head = split < 0 ? raw : raw.slice(0, split);
    const body = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
    const headers = head.replace(/\r?\n[ \t]+/g, ' ');
    const get = (name) => {
        const m = headers.match(new RegExp('^' + name + ':\\s*(.*)$', 'im'));
        return m ? m[1].trim() : '';
    };
    const type = get('Content-Type').toLowerCase();
    const boundary = (get('Content-Type').match(/boundary="?([^";]+)"?/i) || [])[1];
    if (type.startsWith('multipart/') && boundary) {
        return body
            .split('--' + boundary)
            .slice(1)
            .filter((part) => !part.startsWith('--'))
            .map((part) => mimeText(part.replace(/^\r?\n/, '')))
            .join('\n');
    }
    const cte = get('Content-Transfer-Encoding').toLowerCase();
    if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (cte === 'quoted-printable') return decodeQuotedPrintable(body);
    return body;
}

async function waitForActivationCode(mailDir, email, exclude) {
    const deadline = Date.now() + MAIL_WAIT_MS;
    const seenTo = [];
    while (Date.now() < deadline) {
        const fresh = mailFiles(mailDir).filter((f) => !exclude.has(f));
        for (const file of fresh.reverse()) {
            let raw;
            try {
                raw = fs.readFileSync(file, 'utf8');
            } catch (e) {
                continue; // moved from new/ to cur/ meanwhile
            }
            const to = (raw.match(/^To:\s*(.*)$/im) || [])[1] || '';
            seenTo.push(to);
            if (!to.toLowerCase().includes(email.toLowerCase())) continue;
            const m = mimeText(raw).match(/Activation code:\s*([^\s<]+)/);
            if (m) return {code: m[1], file: file};
        }
        await sleep(100);
    }
    return {code: null, error: `no activation mail for ${email} within ${MAIL_WAIT_MS} ms`, seen_to: seenTo};
}

// ---- scenarios ---------------------------------------------------------------------------------- //

function init(secret) {
    results.steps.push('init');
    return new Promise((resolve) =>
        sendpulse.init(env.PULSEBOX_CLIENT_ID, secret, env.PULSEBOX_TOKEN_DIR, resolve));
}

async function full() {
    const r = results;
    const a = `node-a-${TAG}@example.com`;
    const b = `node-b-${TAG}@example.com`;
    const sender = `node-sender-${TAG}@e2e-pulsebox.example.com`;
    const nameValue = 'Zoë "Zo" Ünal';

    r.init = await init(env.PULSEBOX_CLIENT_SECRET);

    // address books
    r.create_book = await call('createAddressBook', `node-book-${TAG}`);
    const bookId = r.create_book.id;
    r.list_books = await call('listAddressBooks', 100, 0); // limit/offset only in the GET's JSON body
    r.list_books_page = await call('listAddressBooks', 1, 0);
    r.edit_book = await call('editAddressBook', bookId, `node-book-${TAG} ✓`);
    r.book_info = await call('getBookInfo', bookId);

    // contacts: addEmails sends {"emails": "<PHP serialize() string>"}, byte-counted UTF-8
    r.add_emails = await call('addEmails', bookId, [
        {email: a, variables: {name: nameValue, city: 'Київ'}},
        {email: b, variables: {}},
    ]);
    r.emails = await call('getEmailsFromBook', bookId);
    r.email_info = await call('getEmailInfo', bookId, a);
    r.update_variables = await call('updateEmailVariables', bookId, a, [{name: 'city', value: 'Lviv "L"'}]);
    r.email_info_after = await call('getEmailInfo', bookId, a);
    r.global_info = await call('getEmailGlobalInfo', a);
    r.email_campaign_stats = await call('emailStatByCampaigns', a);
    r.cost = await call('campaignCost', bookId);
    // no wrapper method for these two: the client's generic sendRequest(path, method, data, cb)
    r.total_before = await raw(`addressbooks/${bookId}/emails/total`, 'GET', {});
    r.unsubscribe = await raw(`addressbooks/${bookId}/emails/unsubscribe`, 'POST', {emails: [b]});
    r.email_info_unsubscribed = await call('getEmailInfo', bookId, b);
    r.remove_emails = await call('removeEmails', bookId, [b]);
    r.emails_after_remove = await call('getEmailsFromBook', bookId);
    r.book_info_after = await call('getBookInfo', bookId);

    // a second book, removed again
    r.create_book2 = await call('createAddressBook', `node-book2-${TAG}`);
    r.remove_book2 = await call('removeAddressBook', r.create_book2.id);
    r.book2_info_after_remove = await call('getBookInfo', r.create_book2.id);

    // senders, with the activation code read from the captured mail
    r.add_sender = await call('addSender', `Node ${nameValue}`, sender);
    r.senders_before = await call('listSenders');
    const seen = new Set(mailFiles(env.PULSEBOX_MAIL_DIR));
    r.request_code = await call('getSenderActivationMail', sender);
    r.activation_mail = await waitForActivationCode(env.PULSEBOX_MAIL_DIR, sender, seen);
    r.activate_wrong = await call('activateSender', sender, 'definitely-not-the-code');
    if (r.activation_mail.code) {
        r.activate = await call('activateSender', sender, r.activation_mail.code);
    }
    r.senders_after = await call('listSenders');
    const spare = `node-spare-${TAG}@e2e-pulsebox.example.com`;
    r.add_spare_sender = await call('addSender', 'Spare', spare);
    r.remove_spare_sender = await call('removeSender', spare);
    r.senders_final = await call('listSenders');

    // blacklist: emails = base64 of the comma-joined list
    const x = `node-x-${TAG}@example.com`;
    const y = `node-y-${TAG}@example.com`;
    r.blacklist_add = await call('addToBlackList', `${x},${y}`, 'node e2e');
    r.blacklist = await call('getBlackList');
    r.blacklist_remove = await call('removeFromBlackList', x);
    r.blacklist_after = await call('getBlackList');

    // templates: created through the generic sendRequest (no wrapper method), then read back
    const html = `<h1>Hello {{name}}</h1><p>${nameValue} — ${TAG}</p>`;
    r.template_html = html;
    r.template_create = await raw('template', 'POST', {
        name: `node-tpl-${TAG}`, body: Buffer.from(html, 'utf8').toString('base64'), lang: 'en'});
    r.templates = await call('listEmailTemplates');
    if (r.template_create && r.template_create.real_id !== undefined) {
        r.template = await call('getEmailTemplate', r.template_create.real_id);
    }

    // a campaign to the book (its attachments go as a PHP serialize() string), then read back
    r.campaign = await call('createCampaign', 'Node Sender', sender, 'Hi {{name}}',
        `<p>Hello {{name}} — ${TAG}</p>`, bookId, `node-campaign-${TAG}`, {'note.txt': `node ${TAG}`});
    r.campaigns = await call('listCampaigns', 10, 0);
    if (r.campaign && r.campaign.id !== undefined) {
        r.campaign_info = await call('getCampaignInfo', r.campaign.id);
    }

    // balance
    r.balance = await call('getBalance');
    r.balance_usd = await call('getBalance', 'usd');

    r.names = {book_id: bookId, a, b, sender, spare, x, y, name_value: nameValue};
}

async function tokenOnly() {
    results.init = await init(env.PULSEBOX_CLIENT_SECRET);
    results.balance_usd = await call('getBalance', 'USD');
    results.list_books = await call('listAddressBooks');
}

async function badCredentials() {
    results.init = await init('not-the-secret');
}

async function smtpSend() {
    const r = results;
    r.init = await init(env.PULSEBOX_CLIENT_SECRET);
    // the client base64-encodes html and sends {"email": "<PHP serialize() of the whole object>"}
    r.email = {
        subject: `Node smtp Zoë ${TAG}`,
        html: `<p>Hello from Node, Zoë — ${TAG}</p>`,
        text: `Hello from Node, Zoë — ${TAG}`,
        from: {name: 'Node Sender Ünal', email: env.PULSEBOX_E2E_SMTP_FROM},
        to: [{name: 'Node Rcpt', email: env.PULSEBOX_E2E_SMTP_TO}],
    };
    r.html = r.email.html; // smtpSendMail replaces email.html with its base64 in place
    r.send = await call('smtpSendMail', Object.assign({}, r.email));
    if (r.send && typeof r.send.id === 'string') {
        r.info = await call('smtpGetEmailInfoById', r.send.id);
    }
}

const scenarios = {full, token: tokenOnly, badcreds: badCredentials, smtp: smtpSend};

(async () => {
    if (!scenarios[MODE]) throw new Error(`unknown mode ${MODE}`);
    await scenarios[MODE]();
    clearTimeout(watchdog);
    finish(0);
})().catch((err) => {
    results.exception = String(err && err.stack ? err.stack : err);
    clearTimeout(watchdog);
    finish(2);
});
