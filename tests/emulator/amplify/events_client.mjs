// The real Amplify JS Events client (`events` from 'aws-amplify/data'), run once
// against an AppSync Events endpoint (the harness emulator in the tests).
//
//   node events_client.mjs --package amplify-current --endpoint https://127.0.0.1:PORT/event \
//       --region us-east-1 --auth-mode iam --channel default/room1 [--timeout-ms 20000]
//
// Credentials come from the environment: EVENTS_API_KEY for apiKey, and
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) for iam, handed
// to Amplify through a custom credentials provider. Amplify always opens wss://,
// so the endpoint must be https://; a private CA is trusted with NODE_EXTRA_CA_CERTS.
//
// It connects, subscribes to the channel, publishes one event over the WebSocket
// (`channel.publish`, where this Amplify has it) and one over HTTP (`events.post`),
// waits for both to come back on the subscription, and prints one JSON object per
// line on stdout, each with a "kind": info, ws_open (the URL and the decoded auth
// subprotocol's keys, its non-secret values and the SigV4 signature), frame (every frame but ka the server sent),
// ws_close, connect_resolved / connect_error, capabilities, subscribed /
// subscribe_error / subscription_error, publish_ws, publish_http, event, and last
// "done" with a summary. Anything else on stdout (Amplify's own console output) is
// not JSON with a "kind" and is to be skipped. The HTTP publish is tried even when
// the WebSocket failed.
//
// Exit status: 0 when every step worked and both events arrived, 3 when a step failed
// (the run still ends with "done"), 2 for bad arguments, 4 for an unexpected crash,
// and 124 when --timeout-ms passed first (after a "done" with "timed_out": true).

import { createRequire } from 'node:module';
import process from 'node:process';
import { parseArgs } from 'node:util';

const PACKAGES = ['amplify-current', 'amplify-680'];
const AUTH_MODES = ['apiKey', 'iam'];
const STEP_TIMEOUT_MS = 8000;

function emit(kind, fields = {}) {
	process.stdout.write(`${JSON.stringify({ kind, ...fields })}\n`);
}

function describeError(error) {
	if (error === undefined || error === null) return { message: String(error) };
	if (error instanceof Error) {
		const described = { name: error.name, message: error.message };
		if (error.underlyingError) described.underlying = describeError(error.underlyingError);
		if (error.recoverySuggestion) described.recoverySuggestion = error.recoverySuggestion;
		return described;
	}
	if (typeof error === 'object') {
		try {
			return { name: 'object', message: JSON.stringify(error), value: error };
		} catch {
			return { name: 'object', message: String(error) };
		}
	}
	return { message: String(error) };
}

function withTimeout(promise, ms, what) {
	let timer;
	const timeout = new Promise((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function usage(message) {
	process.stderr.write(`events_client.mjs: ${message}\n`);
	process.exit(2);
}

const { values: args } = parseArgs({
	options: {
		package: { type: 'string', default: 'amplify-current' },
		endpoint: { type: 'string' },
		region: { type: 'string', default: 'us-east-1' },
		'auth-mode': { type: 'string', default: 'apiKey' },
		channel: { type: 'string', default: 'default/amplify' },
		'timeout-ms': { type: 'string', default: '20000' },
		websocket: { type: 'string', default: 'auto' },
	},
	strict: true,
});
if (!PACKAGES.includes(args.package)) usage(`--package must be one of ${PACKAGES.join(', ')}`);
if (!args.endpoint) usage('--endpoint is required');
if (!AUTH_MODES.includes(args['auth-mode'])) usage(`--auth-mode must be one of ${AUTH_MODES.join(', ')}`);
if (!['auto', 'native', 'ws'].includes(args.websocket)) usage('--websocket must be auto, native or ws');
const totalTimeoutMs = Number(args['timeout-ms']);
if (!(totalTimeoutMs > 0)) usage('--timeout-ms must be a positive number');

const state = {
	sockets: 0,
	connectResolved: false,
	connected: false,
	connectionErrors: [],
	subscribed: false,
	publishWs: null,
	publishHttp: null,
	received: [],
	errors: [],
};

function finish(timedOut) {
	const ok =
		!timedOut &&
		state.connected &&
		state.subscribed &&
		state.publishWs === 'ok' &&
		state.publishHttp === 'ok' &&
		state.received.length >= 2;
	emit('done', {
		ok,
		timed_out: timedOut,
		sockets: state.sockets,
		connect_resolved: state.connectResolved,
		connected: state.connected,
		connection_errors: state.connectionErrors,
		subscribed: state.subscribed,
		publish_ws: state.publishWs,
		publish_http: state.publishHttp,
		received: state.received.length,
		received_via: state.received.map(data => (data?.event ?? data)?.via ?? null),
		errors: state.errors,
	});
	process.exit(timedOut ? 124 : ok ? 0 : 3);
}

// Not unref'd: it also keeps the process alive should Amplify leave nothing else pending.
setTimeout(() => finish(true), totalTimeoutMs);
process.on('uncaughtException', error => {
	emit('crash', { error: describeError(error) });
	process.exit(4);
});
process.on('unhandledRejection', error => {
	// Amplify leaves some internal promises unobserved when a connect fails; note them.
	emit('unhandled_rejection', { error: describeError(error) });
});

// -- the WebSocket Amplify uses: the global one, observed ---------------------------

const require = createRequire(import.meta.url);
let BaseWebSocket;
let websocketImpl;
if (args.websocket !== 'ws' && typeof globalThis.WebSocket === 'function') {
	BaseWebSocket = globalThis.WebSocket;
	websocketImpl = 'native';
} else if (args.websocket === 'native') {
	usage('--websocket native: this Node has no global WebSocket (Node 20 needs --experimental-websocket)');
} else {
	BaseWebSocket = require('ws');
	websocketImpl = 'ws';
}

// Auth header values that are no secret: printed so a test can recompute the signature.
const PUBLIC_AUTH_KEYS = ['accept', 'content-encoding', 'content-type', 'host', 'x-amz-date'];

function decodeAuthProtocol(token) {
	try {
		const text = Buffer.from(token.slice('header-'.length), 'base64url').toString('utf8');
		const header = JSON.parse(text);
		const described = { keys: Object.keys(header).sort(), values: {} };
		for (const key of PUBLIC_AUTH_KEYS) {
			if (key in header) described.values[key] = header[key];
		}
		const authorization = header.authorization ?? header.Authorization;
		if (typeof authorization === 'string' && authorization.startsWith('AWS4-HMAC-SHA256')) {
			// The scope, the signed header list and the signature; never the access key.
			described.credential_scope = /Credential=[^/]+\/([^,]+)/.exec(authorization)?.[1];
			described.signed_headers = /SignedHeaders=([^,]+)/.exec(authorization)?.[1];
			described.signature = /Signature=([0-9a-f]+)/.exec(authorization)?.[1];
		}
		return described;
	} catch (error) {
		return { undecodable: describeError(error).message };
	}
}

// Every frame any socket receives goes to these listeners, then is printed.
const frameListeners = new Set();

class ObservedWebSocket extends BaseWebSocket {
	constructor(url, protocols) {
		super(url, protocols);
		const offered = Array.isArray(protocols) ? protocols : [protocols];
		const auth = offered.find(p => typeof p === 'string' && p.startsWith('header-'));
		const target = new URL(String(url));
		state.sockets += 1;
		emit('ws_open', {
			url: `${target.protocol}//${target.host}${target.pathname}`,
			query: target.search,
			protocols: offered.map(p => (p === auth ? 'header-…' : p)),
			auth: auth ? decodeAuthProtocol(auth) : null,
		});
		this.addEventListener('message', message => {
			const data = typeof message.data === 'string' ? message.data : String(message.data);
			let frame;
			try {
				frame = JSON.parse(data);
			} catch {
				frame = data;
			}
			if (frame?.type === 'ka') return;
			if (frame?.type === 'connection_ack') state.connected = true;
			if (frame?.type === 'connection_error') state.connectionErrors.push(frame);
			emit('frame', { frame });
			for (const listener of frameListeners) listener(frame);
		});
		this.addEventListener('close', event => {
			emit('ws_close', { code: event.code, reason: event.reason });
		});
	}
}
globalThis.WebSocket = ObservedWebSocket;

// -- Amplify -----------------------------------------------------------------------

const { Amplify } = await import(args.package);
const { events } = await import(`${args.package}/data`);
const amplifyVersion = require(`${args.package}/package.json`).version;

const authMode = args['auth-mode'];
const eventsConfig = { endpoint: args.endpoint, region: args.region, defaultAuthMode: authMode };
if (authMode === 'apiKey') {
	if (!process.env.EVENTS_API_KEY) usage('--auth-mode apiKey needs EVENTS_API_KEY');
	eventsConfig.apiKey = process.env.EVENTS_API_KEY;
}
let libraryOptions;
if (authMode === 'iam') {
	const { AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN } = process.env;
	if (!AWS_ACCESS_KEY_ID || !AWS_SECRET_ACCESS_KEY) {
		usage('--auth-mode iam needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
	}
	const credentials = {
		accessKeyId: AWS_ACCESS_KEY_ID,
		secretAccessKey: AWS_SECRET_ACCESS_KEY,
		...(AWS_SESSION_TOKEN ? { sessionToken: AWS_SESSION_TOKEN } : {}),
	};
	libraryOptions = {
		Auth: {
			credentialsProvider: {
				getCredentialsAndIdentityId: async () => ({ credentials }),
				clearCredentialsAndIdentityId: () => {},
			},
		},
	};
}
Amplify.configure({ API: { Events: eventsConfig } }, libraryOptions);
emit('info', {
	amplify: amplifyVersion,
	package: args.package,
	node: process.version,
	websocket: websocketImpl,
	auth_mode: authMode,
	endpoint: args.endpoint,
	channel: args.channel,
});

// -- the run -------------------------------------------------------------------------

const channelName = args.channel;
const tag = `${process.pid}-${Date.now()}`;
const wsEvent = { via: 'websocket', tag, text: 'hello over ws' };
const httpEvent = { via: 'http', tag, text: 'hello over http' };
let notifyReceived = () => {};

function fail(step, error) {
	const described = describeError(error);
	state.errors.push({ step, ...described });
	return described;
}

async function connectAndSubscribe() {
	let channel;
	try {
		channel = await withTimeout(events.connect(channelName), STEP_TIMEOUT_MS, 'events.connect');
		// aws-amplify 6.8.0 resolves connect() before it opens the socket (it opens
		// on subscribe); "connected" in the summary means a connection_ack arrived.
		state.connectResolved = true;
		emit('connect_resolved', { acknowledged: state.connected });
	} catch (error) {
		emit('connect_error', { error: fail('connect', error) });
		return {};
	}
	emit('capabilities', { ws_publish_supported: typeof channel.publish === 'function' });

	// Subscribed once the server's subscribe_success arrives; failed on a
	// subscribe_error, a connection_error or an error from Amplify's observable.
	let settle;
	const outcome = new Promise(resolve => {
		settle = resolve;
	});
	const sniff = frame => {
		if (['subscribe_success', 'subscribe_error', 'connection_error'].includes(frame?.type)) {
			settle(frame);
		}
	};
	frameListeners.add(sniff);
	let subscription;
	try {
		subscription = channel.subscribe({
			next: data => {
				emit('event', { data });
				state.received.push(data);
				notifyReceived();
			},
			error: error => {
				emit('subscription_error', { error: fail('subscription', error) });
				settle({ type: 'observable_error' });
			},
		});
		const frame = await withTimeout(outcome, STEP_TIMEOUT_MS, 'subscribe');
		if (frame.type !== 'subscribe_success') {
			emit('subscribe_error', { error: fail('subscribe', frame) });
			return { channel, subscription };
		}
		state.subscribed = true;
		emit('subscribed', { id: frame.id });
	} catch (error) {
		emit('subscribe_error', { error: fail('subscribe', error) });
	} finally {
		frameListeners.delete(sniff);
	}
	return { channel, subscription };
}

async function publishOverWebSocket(channel) {
	if (typeof channel?.publish !== 'function') {
		state.publishWs = channel ? 'unsupported' : 'skipped';
		emit('publish_ws', { ok: false, [state.publishWs]: true });
		return;
	}
	if (!state.subscribed) {
		state.publishWs = 'skipped';
		emit('publish_ws', { ok: false, skipped: true });
		return;
	}
	try {
		const result = await withTimeout(channel.publish(wsEvent), STEP_TIMEOUT_MS, 'channel.publish');
		state.publishWs = 'ok';
		emit('publish_ws', { ok: true, result: result ?? null });
	} catch (error) {
		state.publishWs = 'error';
		emit('publish_ws', { ok: false, error: fail('publish_ws', error) });
	}
}

async function publishOverHttp() {
	// Tried whatever happened on the WebSocket: HTTP signing is separate code.
	try {
		const failed = await withTimeout(events.post(channelName, httpEvent), STEP_TIMEOUT_MS, 'events.post');
		if (failed && failed.length > 0) {
			state.publishHttp = 'failed';
			emit('publish_http', { ok: false, failed });
			fail('publish_http', { failed });
		} else {
			state.publishHttp = 'ok';
			emit('publish_http', { ok: true });
		}
	} catch (error) {
		state.publishHttp = 'error';
		emit('publish_http', { ok: false, error: fail('publish_http', error) });
	}
}

async function run() {
	const { channel, subscription } = await connectAndSubscribe();
	await publishOverWebSocket(channel);
	await publishOverHttp();
	const expected = state.subscribed
		? (state.publishWs === 'ok' ? 1 : 0) + (state.publishHttp === 'ok' ? 1 : 0)
		: 0;
	if (expected > 0) {
		const allArrived = new Promise(resolve => {
			notifyReceived = () => state.received.length >= expected && resolve();
			notifyReceived();
		});
		try {
			await withTimeout(allArrived, STEP_TIMEOUT_MS, 'delivery');
		} catch (error) {
			fail('delivery', error);
		}
	}
	subscription?.unsubscribe();
	await channel?.close?.();
}

try {
	await run();
} catch (error) {
	fail('run', error);
}
try {
	await withTimeout(Promise.resolve(events.closeAll?.()), 2000, 'events.closeAll');
} catch {
	// closing is best effort; the process exits next
}
finish(false);
