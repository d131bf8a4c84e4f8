/**
 * A tiny SMTP receiver on loopback for the notification tests: it speaks just enough of RFC 5321
 * (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no STARTTLS, no AUTH) for nodemailer, which n8n's
 * Send Email node uses, and keeps every message it accepts, with its headers and its decoded text.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface ReceivedMail {
	from: string;
	to: string[];
	/** Header names in lower case; folded lines unfolded. */
	headers: Record<string, string>;
	subject: string;
	/** The body, quoted-printable or base64 decoded when the message says so. */
	text: string;
	raw: string;
}

export interface SmtpReceiver {
	port: number;
	messages: ReceivedMail[];
	close(): Promise<void>;
}

function decodeBody(body: string, encoding: string | undefined): string {
	switch ((encoding ?? '').toLowerCase()) {
		case 'quoted-printable':
			return Buffer.from(
				body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
				'latin1',
			).toString('utf8');
		case 'base64':
			return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
		default:
			return body;
	}
}

/** "=?UTF-8?Q?...?=" / "=?UTF-8?B?...?=" words of a header (RFC 2047). */
function decodeWords(value: string): string {
	return value.replace(/=\?([^?]+)\?([QB])\?([^?]*)\?=\s*/gi, (_, _charset: string, kind: string, text: string) =>
		kind.toUpperCase() === 'B'
			? Buffer.from(text, 'base64').toString('utf8')
			: Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (__, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8'),
	);
}

export function parseMessage(raw: string, from: string, to: string[]): ReceivedMail {
	const split = raw.indexOf('\r\n\r\n');
	const head = split < 0 ? raw : raw.slice(0, split);
	const body = split < 0 ? '' : raw.slice(split + 4);
	const headers: Record<string, string> = {};
	for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
		const colon = line.indexOf(':');
		if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
	}
	if (/^multipart\//i.test(headers['content-type'] ?? '')) throw new Error('The receiver reads single-part messages only; the notification is plain text');
	return {
		from,
		to,
		headers,
		subject: decodeWords(headers.subject ?? ''),
		text: decodeBody(body, headers['content-transfer-encoding']).replace(/\r\n/g, '\n'),
		raw,
	};
}

export async function startSmtpReceiver(): Promise<SmtpReceiver> {
	const messages: ReceivedMail[] = [];
	const sockets = new Set<Socket>();
	const server: Server = createServer((socket) => {
		sockets.add(socket);
		socket.on('close', () => sockets.delete(socket));
		socket.on('error', () => socket.destroy());
		let buffer = '';
		let inData = false;
		let from = '';
		let to: string[] = [];
		let data: string[] = [];
		const reply = (line: string) => socket.write(`${line}\r\n`);
		reply('220 notify-test ESMTP');
		socket.on('data', (chunk) => {
			buffer += chunk.toString('latin1');
			let end: number;
			while ((end = buffer.indexOf('\r\n')) >= 0) {
				const line = buffer.slice(0, end);
				buffer = buffer.slice(end + 2);
				if (inData) {
					if (line === '.') {
						inData = false;
						const raw = Buffer.from(data.join('\r\n'), 'latin1').toString('utf8');
						messages.push(parseMessage(raw, from, to));
						reply('250 OK: queued');
					} else data.push(line.startsWith('..') ? line.slice(1) : line);
					continue;
				}
				const command = line.slice(0, 4).toUpperCase();
				if (command === 'EHLO') socket.write('250-notify-test\r\n250 8BITMIME\r\n');
				else if (command === 'HELO') reply('250 notify-test');
				else if (command === 'MAIL') {
					from = /<([^>]*)>/.exec(line)?.[1] ?? '';
					to = [];
					reply('250 OK');
				} else if (command === 'RCPT') {
					to.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
					reply('250 OK');
				} else if (command === 'DATA') {
					if (to.length === 0) reply('503 RCPT first');
					else {
						inData = true;
						data = [];
						reply('354 End data with <CR><LF>.<CR><LF>');
					}
				} else if (command === 'RSET') {
					from = '';
					to = [];
					reply('250 OK');
				} else if (command === 'NOOP') reply('250 OK');
				else if (command === 'QUIT') {
					reply('221 Bye');
					socket.end();
				} else reply('502 Command not implemented');
			}
		});
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve());
	});
	const address = server.address();
	if (!address || typeof address === 'string') throw new Error('The SMTP receiver has no port');
	return {
		port: address.port,
		messages,
		close: () =>
			new Promise<void>((resolve) => {
				for (const socket of sockets) socket.destroy();
				server.close(() => resolve());
			}),
	};
}
