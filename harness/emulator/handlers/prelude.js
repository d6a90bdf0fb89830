// The APPSYNC_JS globals a namespace handler file sees in the emulator, and the entry
// point the emulator calls. Evaluated once per engine, before the handler file.
// QuickJS cannot call into Python under a time limit, so everything here is plain
// JavaScript: log lines are collected and handed back with the handler's result.
"use strict";

const __log = [];

function __show(value) {
  if (typeof value === "string") return value;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text;
  } catch (e) {
    return String(value);
  }
}

function __logger(level) {
  return (...args) => {
    if (__log.length < 100) __log.push([level, args.map(__show).join(" ")]);
  };
}

function __hex(count) {
  let text = "";
  for (let i = 0; i < count; i++) text += Math.floor(Math.random() * 16).toString(16);
  return text;
}

const __CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function __ulid() {
  let time = Date.now();
  let head = "";
  for (let i = 0; i < 10; i++) {
    head = __CROCKFORD[time % 32] + head;
    time = Math.floor(time / 32);
  }
  let tail = "";
  for (let i = 0; i < 16; i++) tail += __CROCKFORD[Math.floor(Math.random() * 32)];
  return head + tail;
}

function __base64Encode(text) {
  const bytes = unescape(encodeURIComponent(String(text)));
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes.charCodeAt(i) << 16) | ((bytes.charCodeAt(i + 1) || 0) << 8)
      | (bytes.charCodeAt(i + 2) || 0);
    out += alphabet[(n >> 18) & 63] + alphabet[(n >> 12) & 63]
      + (i + 1 < bytes.length ? alphabet[(n >> 6) & 63] : "=")
      + (i + 2 < bytes.length ? alphabet[n & 63] : "=");
  }
  return out;
}

function __base64Decode(text) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const clean = String(text).replace(/[^A-Za-z0-9+/]/g, "");
  let bytes = "";
  for (let i = 0; i < clean.length; i += 4) {
    const n = (alphabet.indexOf(clean[i]) << 18) | (alphabet.indexOf(clean[i + 1]) << 12)
      | ((alphabet.indexOf(clean[i + 2]) & 63) << 6) | (alphabet.indexOf(clean[i + 3]) & 63);
    bytes += String.fromCharCode((n >> 16) & 255);
    if (i + 2 < clean.length) bytes += String.fromCharCode((n >> 8) & 255);
    if (i + 3 < clean.length) bytes += String.fromCharCode(n & 255);
  }
  return decodeURIComponent(escape(bytes));
}

// Thrown by util.error, util.unauthorized and runtime.earlyReturn; __invoke reads them.
class __Signal {
  constructor(kind, fields) {
    this.kind = kind;
    Object.assign(this, fields);
  }
}

globalThis.util = Object.freeze({
  error(message, errorType, data, errorInfo) {
    throw new __Signal("error", {
      message: message === undefined ? "" : String(message),
      errorType: errorType === undefined || errorType === null ? null : String(errorType),
    });
  },
  unauthorized() {
    throw new __Signal("unauthorized", {});
  },
  log: __logger("INFO"),
  autoId() {
    const variant = "89ab"[Math.floor(Math.random() * 4)];
    return `${__hex(8)}-${__hex(4)}-4${__hex(3)}-${variant}${__hex(3)}-${__hex(12)}`;
  },
  autoUlid: __ulid,
  base64Encode: __base64Encode,
  base64Decode: __base64Decode,
  urlEncode: (text) => encodeURIComponent(String(text)),
  urlDecode: (text) => decodeURIComponent(String(text)),
  escapeJavaScript: (text) => JSON.stringify(String(text)).slice(1, -1),
  isNull: (value) => value === null || value === undefined,
  isNullOrEmpty: (value) => value === null || value === undefined || value === "",
  isNullOrBlank: (value) => value === null || value === undefined || String(value).trim() === "",
  defaultIfNull: (value, fallback) => (value === null || value === undefined ? fallback : value),
  time: Object.freeze({
    nowISO8601: () => new Date().toISOString(),
    nowEpochSeconds: () => Math.floor(Date.now() / 1000),
    nowEpochMilliSeconds: () => Date.now(),
  }),
});

globalThis.runtime = Object.freeze({
  earlyReturn(value) {
    throw new __Signal("early", { value });
  },
});

globalThis.console = Object.freeze({
  log: __logger("INFO"),
  info: __logger("INFO"),
  debug: __logger("DEBUG"),
  warn: __logger("WARNING"),
  error: __logger("ERROR"),
});

// Call one handler with the context (JSON text); answer JSON text:
// {"result": ...} (published events serialised by JavaScript, as AppSync does), or
// {"signal": "error"|"unauthorized", ...}; "log" holds the lines logged meanwhile.
// Anything else thrown propagates, with its stack, to the emulator.
function __invoke(name, contextText) {
  __log.length = 0;
  const handler = __handlers[name];
  const ctx = JSON.parse(contextText);
  let answer;
  try {
    answer = { result: __shape(name, handler(ctx)) };
  } catch (thrown) {
    if (!(thrown instanceof __Signal)) throw thrown;
    if (thrown.kind === "early") answer = { result: __shape(name, thrown.value) };
    else answer = { signal: thrown.kind, message: thrown.message, errorType: thrown.errorType };
  }
  answer.log = __log;
  return JSON.stringify(answer);
}

function __shape(name, result) {
  if (name !== "onPublish" || result === undefined || result === null) return null;
  if (!Array.isArray(result)) {
    throw new TypeError(`onPublish must return an array of events, not ${typeof result}`);
  }
  return result.map((event) => {
    if (event === null || typeof event !== "object") {
      throw new TypeError("each event onPublish returns must be an object with an id");
    }
    const shaped = { id: event.id === undefined ? null : String(event.id) };
    if (event.error !== undefined && event.error !== null) shaped.error = String(event.error);
    else shaped.event = event.payload === undefined ? "null" : JSON.stringify(event.payload);
    return shaped;
  });
}
