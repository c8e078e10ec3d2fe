import { createHash } from 'node:crypto'

/** A Docker-style 64-hex id derived from a label, so tests read well and ids never collide. */
export const id = (label: string): string => createHash('sha256').update(label).digest('hex')
