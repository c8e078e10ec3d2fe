import { createServer } from 'node:http'
import { unlinkSync } from 'node:fs'
const sock = process.argv[2]
try {
  unlinkSync(sock)
} catch {}
const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString())
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{}')
  })
})
server.keepAliveTimeout = 0
server.listen(sock)
