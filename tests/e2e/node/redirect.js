// Preload (`node -r ./redirect.js app.js`): sends the sendpulse-api client's HTTPS requests for
// api.sendpulse.com to a local Pulsebox over plain HTTP, without editing the package.
// The client hard-codes hostname "api.sendpulse.com" and port 443 and calls https.request(options, cb).
//   PULSEBOX_E2E_PORT  port of the Pulsebox server (required)
//   PULSEBOX_E2E_HOST  its host (default 127.0.0.1)
'use strict';

const http = require('http');
const https = require('https');

const TARGET_HOST = 'api.sendpulse.com';
const PORT = parseInt(process.env.PULSEBOX_E2E_PORT || '', 10);
const HOST = process.env.PULSEBOX_E2E_HOST || '127.0.0.1';
if (!PORT) {
    throw new Error('redirect.js: set PULSEBOX_E2E_PORT to the Pulsebox port');
}

const originalRequest = https.request;

function isTarget(opts) {
    if (!opts || typeof opts !== 'object') return false;
    const host = opts.hostname || opts.host || '';
    return String(host).split(':')[0] === TARGET_HOST;
}

https.request = function redirectedRequest(input, options, callback) {
    let opts = input;
    let cb = callback;
    if (typeof input === 'string' || input instanceof URL) {
        const url = new URL(input);
        opts = Object.assign(
            {hostname: url.hostname, path: url.pathname + url.search},
            typeof options === 'object' ? options : {},
        );
        if (typeof options === 'function') cb = options;
    } else if (typeof options === 'function') {
        cb = options;
    }
    if (!isTarget(opts)) {
        return originalRequest.apply(this, arguments);
    }
    const local = Object.assign({}, opts, {protocol: 'http:', hostname: HOST, port: PORT});
    delete local.host;
    delete local.agent; // an https.Agent cannot carry an http request
    return http.request(local, cb);
};
