// A minimal SMTP server for the tests: accepts every message and writes it to a folder as
// <n>.eml (raw, as received). Prints "listening <port>" once it listens on 127.0.0.1:<port>.
// A recipient address with "+refuse" is refused (550); with "+down" the connection is dropped,
// as a server that goes away would (the notification tests' failing deliveries); with "+slow" the
// message is accepted after 3 s, and dropped if the sender goes away first.
//   node smtp-sink.mjs <folder> [port]
import { mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node smtp-sink.mjs <folder> [port]');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
let n = 0;

const server = net.createServer((socket) => {
  socket.setEncoding('utf8');
  let buffer = '';
  let data = null;
  let from = '';
  let to = [];
  const reply = (line) => socket.write(`${line}\r\n`);
  reply('220 sink ESMTP');
  socket.on('data', (chunk) => {
    buffer += chunk;
    for (;;) {
      if (data !== null) {
        const end = buffer.indexOf('\r\n.\r\n');
        if (end < 0) return;
        data += buffer.slice(0, end);
        buffer = buffer.slice(end + 5);
        const body = data.replace(/^\.\./gm, '.');
        const message = `X-Sink-From: ${from}\r\nX-Sink-To: ${to.join(', ')}\r\n${body}`;
        const keep = () => {
          n += 1;
          writeFileSync(join(dir, `${String(n).padStart(6, '0')}.eml`), message);
          reply('250 OK queued');
        };
        // "+slow": accepted only after 3 s, and only if the sender is still there (a sender that
        // dies meanwhile has sent nothing).
        if (to.some((t) => t.includes('+slow'))) {
          setTimeout(() => {
            if (!socket.destroyed) keep();
          }, 3000);
        } else keep();
        data = null;
        from = '';
        to = [];
        continue;
      }
      const i = buffer.indexOf('\r\n');
      if (i < 0) return;
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') {
        socket.write('250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n');
      } else if (verb === 'HELO') reply('250 sink');
      else if (verb === 'MAIL') {
        from = line.replace(/^MAIL FROM:\s*/i, '');
        reply('250 OK');
      } else if (verb === 'RCPT') {
        const rcpt = line.replace(/^RCPT TO:\s*/i, '');
        if (rcpt.includes('+down')) {
          socket.destroy();
          return;
        }
        if (rcpt.includes('+refuse')) {
          reply('550 mailbox unavailable');
          continue;
        }
        to.push(rcpt);
        reply('250 OK');
      } else if (verb === 'DATA') {
        data = '';
        reply('354 end with <CRLF>.<CRLF>');
      } else if (verb === 'RSET') {
        from = '';
        to = [];
        reply('250 OK');
      } else if (verb === 'NOOP') reply('250 OK');
      else if (verb === 'QUIT') {
        reply('221 bye');
        socket.end();
        return;
      } else reply('502 not implemented');
    }
  });
  socket.on('error', () => undefined);
});

server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
