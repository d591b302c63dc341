#!/usr/bin/env node
// sluicegate-client: ask sluicegate's GatewayService one question, as a module or from the command line.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTOS_DIR = path.resolve(__dirname, '..', '..', 'protos');
const GATEWAY_PROTO = 'sluicegate/gateway/v1/gateway.proto';
// keepCase false: fields are lowerCamelCase, as in the proto3 JSON mapping; int64 values are strings and
// enums are their names, so the printed JSON is exactly what the JSON mapping of the response would be.
const LOADER_OPTIONS = { includeDirs: [PROTOS_DIR], keepCase: false, longs: String, enums: String, oneofs: true };
const DEFAULT_TIMEOUT_SECONDS = 120;

const STATUS_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

let gatewayService;

/** GatewayService's client constructor, loaded from the .proto contracts once. */
function gatewayServiceClient() {
  if (!gatewayService) {
    const definition = protoLoader.loadSync(GATEWAY_PROTO, LOADER_OPTIONS);
    gatewayService = grpc.loadPackageDefinition(definition).sluicegate.gateway.v1.GatewayService;
  }
  return gatewayService;
}

/** A GatewayService client; TLS when `tls` is set (with `caPath` for a private certificate authority). */
function createClient(address, { tls = false, caPath } = {}) {
  const credentials = tls
    ? grpc.credentials.createSsl(caPath ? fs.readFileSync(caPath) : null)
    : grpc.credentials.createInsecure();
  const Client = gatewayServiceClient();
  return new Client(address, credentials);
}

function callMetadata(apiKey) {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${apiKey}`);
  return metadata;
}

function textOf(message) {
  return ((message && message.content) || []).map((part) => part.text || '').join('');
}

function result(fields, answer) {
  return {
    id: fields.id || '',
    answer,
    model: fields.model || '',
    finishReason: fields.finishReason || 'FINISH_REASON_UNSPECIFIED',
    usage: fields.usage || {},
    costMicrosUsd: fields.costMicrosUsd || '0',
    decision: fields.decision || {},
  };
}

function unary(client, request, metadata, options) {
  return new Promise((resolve, reject) => {
    client.Chat(request, metadata, options, (error, response) => {
      if (error) reject(error);
      else resolve(result(response, textOf(response.message)));
    });
  });
}

function streamed(client, request, metadata, options, onDelta) {
  return new Promise((resolve, reject) => {
    const pieces = [];
    let summary;
    const call = client.ChatStream(request, metadata, options);
    call.on('data', (event) => {
      if (event.delta) {
        pieces.push(event.delta.text || '');
        if (onDelta) onDelta(event.delta.text || '');
      } else if (event.summary) {
        summary = event.summary;
      }
    });
    call.on('error', reject);
    call.on('end', () => {
      // grpc-js reports a failed stream through 'error'; a clean end without a summary breaks the contract.
      if (summary) resolve(result(summary, pieces.join('')));
      else reject(Object.assign(new Error('stream ended without a summary'), { code: grpc.status.INTERNAL }));
    });
  });
}

/**
 * Asks one question; resolves to {id, answer, model, finishReason, usage, costMicrosUsd, decision}.
 * Rejects with a grpc-js ServiceError (its `code` is a grpc.status value; see statusName).
 */
async function chat(address, apiKey, text, { stream = false, model = 'auto', timeoutSeconds, tls, caPath, onDelta } = {}) {
  const client = createClient(address, { tls, caPath });
  const request = { messages: [{ role: 'ROLE_USER', content: [{ text }] }], model };
  const options = { deadline: Date.now() + 1000 * (timeoutSeconds || DEFAULT_TIMEOUT_SECONDS) };
  try {
    return stream
      ? await streamed(client, request, callMetadata(apiKey), options, onDelta)
      : await unary(client, request, callMetadata(apiKey), options);
  } finally {
    client.close();
  }
}

/** The canonical name of a gRPC status code ("PERMISSION_DENIED" for 7). */
function statusName(code) {
  return STATUS_NAMES[code] || 'UNKNOWN';
}

const USAGE = 'usage: node clients/node/sluicegate-client.js --address HOST:PORT --api-key KEY [--stream] '
  + '[--model NAME] [--timeout-seconds N] [--tls [--ca PATH]] "question"';

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        address: { type: 'string', default: '127.0.0.1:8080' },
        'api-key': { type: 'string', default: process.env.SLUICEGATE_API_KEY },
        stream: { type: 'boolean', default: false },
        model: { type: 'string', default: 'auto' },
        'timeout-seconds': { type: 'string', default: String(DEFAULT_TIMEOUT_SECONDS) },
        tls: { type: 'boolean', default: false },
        ca: { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1 || !values['api-key']) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  try {
    const answer = await chat(values.address, values['api-key'], positionals[0], {
      stream: values.stream,
      model: values.model,
      timeoutSeconds: Number(values['timeout-seconds']),
      tls: values.tls,
      caPath: values.ca,
    });
    process.stdout.write(`${JSON.stringify(answer)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`${statusName(error.code)}: ${error.details || error.message}\n`);
    return 1;
  }
}

module.exports = { chat, createClient, statusName };

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
