import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';

/** How long a refused connection may stay open for the client to read the answer. */
const LINGER_MS = 5000;

/** Status, stable code and message for an error of Node's HTTP parser (llhttp `HPE_*` codes). */
function classify(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'request_header_too_large', 'the request header section is too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'request_too_large', 'the request body framing is too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'the request was not received in time'];
    case 'HPE_INVALID_METHOD':
    case 'HPE_INVALID_URL':
    case 'HPE_INVALID_VERSION':
    case 'HPE_INVALID_CONSTANT':
      return [400, 'malformed_request', 'the request line is not valid HTTP'];
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_UNEXPECTED_SPACE':
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
      return [400, 'malformed_request', 'a request header is not valid HTTP'];
    default:
      return [400, 'malformed_request', 'the request is not valid HTTP'];
  }
}

/**
 * Requests Node's HTTP parser refuses never reach Koa; without this they get a bare
 * `400 Bad Request` with no body. Answers them in the contract's shape instead, on the raw socket,
 * then closes it (the stream position is unknown after a parse error). Like Node's own handler,
 * writes nothing when a response is already under way on the socket. The request's bytes are
 * never logged: they may hold a token or a certificate.
 */
export function answerParserErrors(server: Server, log: Logger): void {
  // The parser can report again for bytes that arrive after the answer (a TLS socket delivers the
  // rest of an oversized header section record by record): the first answer stands, and
  // destroying the socket then would throw it away unsent.
  const answered = new WeakSet<Duplex>();
  server.on('clientError', (err: Error & { code?: string }, socket: Duplex) => {
    if (answered.has(socket)) return;
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    answered.add(socket);
    const [status, code, message] = classify(err.code);
    const reqId = randomUUID();
    const body = JSON.stringify({ statusCode: status, error: code, message, reqId });
    log.debug({ event: 'http_parse_error', parserCode: err.code, status, reqId }, 'request refused by the HTTP parser');
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${reqId}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
    // The server keeps sockets half-open: a client that never closes its side must not keep
    // this one forever (the parser's own timeouts ended with the parse error).
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
    socket.once('close', () => clearTimeout(linger));
  });
}
