import type { Duplex } from 'node:stream';

/**
 * A request Node's HTTP parser cannot read (a NUL in a header, a malformed
 * request line, headers too large) never reaches the app; by default Node
 * answers it with a bare 400. Stocktake answers it like every other refusal:
 * a problem document.
 */
export function answerClientErrors(server: NodeJS.EventEmitter): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({
      type: `https://stocktake.dev/problems/${tooLarge ? 'headers-too-large' : 'malformed-request'}`,
      title: 'The request cannot be read',
      status,
      detail: tooLarge ? 'the request headers are too large' : 'the request line or a header is malformed (for example a control character in a header)',
    });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `content-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
}
