/**
 * Shared set-up of the loopback stamp and sealed-import attack tests: a sealer that counts what it seals and
 * unseals, a raw framed client of the enclave socket, a raw HTTP sender to the parent proxy, and a man in
 * the middle between the SDK and the proxy that can rewrite requests and hold, swap or replace answers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import { createLocalSealer, type Sealer } from '@enclave-custody/enclave-runtime'
import { isCustodyError } from '@enclave-custody/sdk'
import { encodeFrame, FrameDecoder, type Operation, operationToRoute, RESPONSE_SIGNATURE_HEADER, STAMP_HEADER } from '@enclave-custody/sdk/protocol'

/** A dev sealer that counts seals (and generations) and unseals: a refused request must reach neither. */
export function countingSealer(fill: number): { sealer: Sealer; seals: () => number; unseals: () => number } {
  const inner = createLocalSealer(new Uint8Array(32).fill(fill))
  let seals = 0
  let unseals = 0
  const sealer: Sealer = {
    kind: inner.kind,
    seal: (...args) => {
      seals++
      return inner.seal!(...args)
    },
    unseal: (...args) => {
      unseals++
      return inner.unseal(...args)
    },
    ...(inner.generate
      ? {
          generate: (...args: Parameters<NonNullable<Sealer['generate']>>) => {
            seals++
            return inner.generate!(...args)
          },
        }
      : {}),
  }
  return { sealer, seals: () => seals, unseals: () => unseals }
}

/** A framed TCP client of the enclave server: one request, its answer (matched by id). */
export async function socketClient(port: number): Promise<{ send(message: unknown): Promise<Record<string, unknown>>; close(): void }> {
  const socket: Socket = connect({ host: '127.0.0.1', port })
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const decoder = new FrameDecoder()
  const waiting = new Map<string, (m: Record<string, unknown>) => void>()
  socket.on('data', (chunk) => {
    for (const frame of decoder.push(chunk)) {
      const m = (frame.message ?? {}) as Record<string, unknown>
      const w = waiting.get(String(m.id))
      waiting.delete(String(m.id))
      w?.(m)
    }
  })
  return {
    send: (message) =>
      new Promise((resolve, reject) => {
        const id = String((message as { id: unknown }).id)
        const t = setTimeout(() => reject(new Error('no answer from the enclave socket within 5 s')), 5_000)
        waiting.set(id, (m) => {
          clearTimeout(t)
          resolve(m)
        })
        socket.write(encodeFrame(message))
      }),
    close: () => socket.destroy(),
  }
}

/** What came back over HTTP: status, JSON body, and the response signature header (parsed) if any. */
export type HttpAnswer = { status: number; body: Record<string, unknown>; sig?: unknown }

/**
 * Send `{ op, params }` with `auth` (or none) to the parent proxy as a raw HTTP request, on the route the SDK
 * uses for that operation (the proxy maps it back to the same params).
 */
export async function httpSend(proxyUrl: string, { op, params, auth }: { op: string; params: Record<string, unknown>; auth?: unknown }): Promise<HttpAnswer> {
  const route = operationToRoute(op as Operation, params)
  const response = await fetch(new URL(route.path, proxyUrl), {
    method: route.method,
    headers: { accept: 'application/json', ...(auth === undefined ? {} : { [STAMP_HEADER]: JSON.stringify(auth) }), ...(route.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
  })
  const header = response.headers.get(RESPONSE_SIGNATURE_HEADER)
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, ...(header === null ? {} : { sig: JSON.parse(header) }) }
}

/** The error code a custody call failed with, or 'resolved' when it returned a result. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'resolved'
  } catch (e) {
    if (isCustodyError(e)) return e.code
    throw e
  }
}

export type Exchange = { method: string; path: string; headers: Record<string, string>; body: string }
export type Answer = { status: number; headers: Record<string, string>; body: string }
/** What the man in the middle does: edit a request (or answer it itself), edit, hold or replace an answer. */
export type Mitm = {
  request?: (r: Exchange) => Exchange | Promise<Exchange>
  answer?: (a: Answer, r: Exchange) => Answer | Promise<Answer>
}

/** An HTTP man in the middle in front of `upstream()` (the proxy's URL); its behaviour can be changed at any time. */
export async function startMitm(upstream: () => string): Promise<{ url: string; set(behaviour: Mitm): void; forward(r: Exchange): Promise<Answer>; close(): void }> {
  let behaviour: Mitm = {}
  const forward = async (exchange: Exchange): Promise<Answer> => {
    const res = await fetch(`${upstream()}${exchange.path}`, { method: exchange.method, headers: exchange.headers, ...(exchange.method === 'POST' ? { body: exchange.body } : {}) })
    return {
      status: res.status,
      headers: Object.fromEntries([...res.headers].filter(([k]) => k === 'content-type' || k === RESPONSE_SIGNATURE_HEADER)),
      body: await res.text(),
    }
  }
  async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>
    const current = behaviour
    let exchange: Exchange = { method: req.method ?? 'GET', path: req.url ?? '/', headers, body: Buffer.concat(chunks).toString('utf8') }
    if (current.request) exchange = await current.request(exchange)
    let answer = await forward(exchange)
    if (current.answer) answer = await current.answer(answer, exchange)
    res.writeHead(answer.status, answer.headers)
    res.end(answer.body)
  }
  const server: Server = createServer((req, res) => {
    relay(req, res).catch(() => res.destroy())
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    set: (b) => {
      behaviour = b
    },
    forward,
    close: () => {
      server.closeAllConnections()
      server.close()
    },
  }
}

/**
 * A man-in-the-middle answer hook that holds the answers of the first two exchanges `matches` accepts and
 * releases each with the other's answer (status, signature header and body swapped).
 */
export function swapPair(matches: (r: Exchange) => boolean): { answer: (a: Answer, r: Exchange) => Answer | Promise<Answer>; swapped: () => number } {
  const held: { answer: Answer; release: (a: Answer) => void }[] = []
  let swapped = 0
  return {
    answer: (a, r) => {
      if (!matches(r) || held.length >= 2) return a
      return new Promise<Answer>((release) => {
        held.push({ answer: a, release })
        // Never hang a test: a lone answer is let through (unswapped) after 3 s, and the test sees no swap.
        if (held.length === 1) setTimeout(() => held.length === 1 && held[0]!.release(a), 3_000)
        if (held.length === 2) {
          swapped = 2
          held[0]!.release(held[1]!.answer)
          held[1]!.release(held[0]!.answer)
        }
      })
    },
    swapped: () => swapped,
  }
}
