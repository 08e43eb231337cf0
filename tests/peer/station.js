#!/usr/bin/env node
// An independent OCPP 1.6 station: ocpp-rpc (not our Python stack) in strict mode, so every frame the
// CSMS sends, and every answer we give, is checked against the OCPP 1.6 JSON schemas bundled with
// ocpp-rpc. Runs one scripted conversation and prints a JSON report on stdout.
//
//   node station.js --url ws://127.0.0.1:8000/ocpp/ --identity CP-1 --password secret --id-tag CARD-1
//
// The CSMS is expected to have queued, before we connect, RemoteStartTransaction (connector 1, the
// --id-tag), GetConfiguration, ChangeConfiguration and Reset: we answer them as a station would.
'use strict';

const { RPCClient } = require('ocpp-rpc');

const EXPECTED_COMMANDS = ['RemoteStartTransaction', 'GetConfiguration', 'ChangeConfiguration', 'Reset'];

function args() {
    const out = {};
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) {
        out[argv[i].replace(/^--/, '')] = argv[i + 1];
    }
    for (const name of ['url', 'identity', 'password', 'id-tag']) {
        if (!out[name]) throw new Error(`missing --${name}`);
    }
    return out;
}

function now() {
    return new Date().toISOString();
}

function deferred() {
    let resolve;
    const promise = new Promise((r) => { resolve = r; });
    return { promise, resolve };
}

function withTimeout(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
    const opts = args();
    const report = {
        protocol: null,
        strictValidationFailures: [],
        badMessages: [],
        results: {},
        commandsReceived: {},
        malformed: {},
        errors: [],
    };

    const client = new RPCClient({
        endpoint: opts.url.replace(/\/$/, ''),
        identity: opts.identity,
        password: Buffer.from(opts.password, 'utf8'),
        protocols: ['ocpp1.6'],
        strictMode: true,
        reconnect: false,
        callTimeoutMs: 15000,
    });

    client.on('strictValidationFailure', (event) => {
        report.strictValidationFailures.push({
            method: event.method,
            outbound: event.outbound,
            isCall: event.isCall,
            error: String(event.error && event.error.message),
        });
    });
    // The answers to our own raw malformed frames reach ocpp-rpc as CALLERRORs for ids it never
    // used; those are expected, anything else the CSMS sends that ocpp-rpc cannot place is not.
    const rawIds = new Set(['-1', 'peer-bad-1', 'peer-bad-2', 'peer-bad-3']);
    client.on('badMessage', (event) => {
        try {
            const frame = JSON.parse(String(event.buffer));
            if (Array.isArray(frame) && frame[0] === 4 && rawIds.has(String(frame[1]))) return;
        } catch (e) {
            // not JSON: report it
        }
        report.badMessages.push({ message: String(event.buffer), error: String(event.error && event.error.message) });
    });

    // Raw frames the CSMS sends back to our deliberately malformed ones (their ids are not calls
    // ocpp-rpc made, so it would drop them).
    const rawAnswers = new Map();
    client.on('message', ({ message, outbound }) => {
        if (outbound) return;
        try {
            const frame = JSON.parse(String(message));
            if (Array.isArray(frame) && frame[0] === 4) rawAnswers.set(String(frame[1]), frame);
        } catch (e) {
            // not JSON: a strict failure of the CSMS, reported as a bad message
        }
    });

    const commands = {};
    for (const name of EXPECTED_COMMANDS) commands[name] = deferred();
    const received = (name, params) => {
        report.commandsReceived[name] = params;
        commands[name].resolve(params);
    };
    client.handle('RemoteStartTransaction', ({ params }) => {
        received('RemoteStartTransaction', params);
        return { status: 'Accepted' };
    });
    client.handle('GetConfiguration', ({ params }) => {
        received('GetConfiguration', params);
        return {
            configurationKey: [
                { key: 'HeartbeatInterval', readonly: false, value: '60' },
                { key: 'NumberOfConnectors', readonly: true, value: '1' },
            ],
            unknownKey: [],
        };
    });
    client.handle('ChangeConfiguration', ({ params }) => {
        received('ChangeConfiguration', params);
        return { status: 'Accepted' };
    });
    client.handle('Reset', ({ params }) => {
        received('Reset', params);
        return { status: 'Accepted' };
    });
    client.handle(({ method }) => {
        report.errors.push(`unexpected call from the CSMS: ${method}`);
        return { status: 'Rejected' };
    });

    const step = async (name, method, params) => {
        try {
            const result = await client.call(method, params);
            report.results[name] = result;
            return result;
        } catch (error) {
            report.results[name] = { error: error.rpcErrorCode || error.message };
            report.errors.push(`${name}: ${error.message}`);
            return null;
        }
    };

    try {
        await client.connect();
        report.protocol = client.protocol;

        const boot = await step('BootNotification', 'BootNotification', {
            chargePointVendor: 'ocpp-rpc peer',
            chargePointModel: 'Independent-1',
            chargePointSerialNumber: 'PEER-0001',
            firmwareVersion: '2.2.1',
        });
        if (!boot || boot.status !== 'Accepted') throw new Error(`boot not accepted: ${JSON.stringify(boot)}`);
        await step('Heartbeat', 'Heartbeat', {});
        await step('StatusNotification.Available', 'StatusNotification', {
            connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now(),
        });
        await step('Authorize.unknown', 'Authorize', { idTag: 'PEER-NO-SUCH-CARD' });

        // The CSMS asks us to start; a station then authorizes (LocalPreAuthorize off) and starts.
        const remote = await withTimeout(commands.RemoteStartTransaction.promise, 20000, 'RemoteStartTransaction');
        const idTag = remote.idTag;
        await step('Authorize', 'Authorize', { idTag });
        await step('StatusNotification.Preparing', 'StatusNotification', {
            connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: now(),
        });
        const start = await step('StartTransaction', 'StartTransaction', {
            connectorId: 1, idTag, meterStart: 1000, timestamp: now(),
        });
        const transactionId = start ? start.transactionId : -1;
        await step('StatusNotification.Charging', 'StatusNotification', {
            connectorId: 1, errorCode: 'NoError', status: 'Charging', timestamp: now(),
        });
        await step('MeterValues', 'MeterValues', {
            connectorId: 1,
            transactionId,
            meterValue: [{
                timestamp: now(),
                sampledValue: [
                    { value: '1.75', measurand: 'Energy.Active.Import.Register', unit: 'kWh', context: 'Sample.Periodic' },
                    { value: '7.2', measurand: 'Power.Active.Import', unit: 'kW', context: 'Sample.Periodic' },
                ],
            }],
        });
        await step('StopTransaction', 'StopTransaction', {
            transactionId, idTag, meterStop: 2500, timestamp: now(), reason: 'Local',
            transactionData: [{
                timestamp: now(),
                sampledValue: [{ value: '2500', measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Transaction.End' }],
            }],
        });
        await step('StatusNotification.Finishing', 'StatusNotification', {
            connectorId: 1, errorCode: 'NoError', status: 'Finishing', timestamp: now(),
        });
        await step('DataTransfer', 'DataTransfer', { vendorId: 'org.example.peer', messageId: 'Hello', data: 'x' });

        // The rest of the queued commands.
        await withTimeout(
            Promise.all(EXPECTED_COMMANDS.map((name) => commands[name].promise)), 20000, 'the queued commands',
        );

        // Malformed frames, sent raw (strict mode would not let us send them): the CSMS must answer
        // each with the right CALLERROR and keep the connection.
        const malformed = {
            notJson: ['this is not JSON', '-1'],
            unknownField: [JSON.stringify([2, 'peer-bad-1', 'Heartbeat', { surprise: 1 }]), 'peer-bad-1'],
            missingField: [JSON.stringify([2, 'peer-bad-2', 'StatusNotification', { connectorId: 1 }]), 'peer-bad-2'],
            unknownAction: [JSON.stringify([2, 'peer-bad-3', 'NoSuchAction', {}]), 'peer-bad-3'],
        };
        for (const [name, [text, id]] of Object.entries(malformed)) {
            rawAnswers.delete(id);
            client.sendRaw(text);
            const deadline = Date.now() + 10000;
            while (!rawAnswers.has(id) && Date.now() < deadline) {
                await new Promise((r) => setTimeout(r, 20));
            }
            const frame = rawAnswers.get(id);
            report.malformed[name] = frame ? frame[2] : null;
        }
        // Still served after all that.
        await step('Heartbeat.after', 'Heartbeat', {});
    } catch (error) {
        report.errors.push(String(error && error.message));
    } finally {
        try {
            await client.close({ code: 1000, awaitPending: false });
        } catch (e) {
            // already closed
        }
    }
    process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((error) => {
    process.stdout.write(JSON.stringify({ errors: [String(error && error.stack)] }) + '\n');
    process.exitCode = 1;
});
