import { describe, expect, test } from 'vitest'
import { OutputCapture, truncationMarker } from '../../src/exec/output.ts'

describe('OutputCapture', () => {
  test('decodes UTF-8 split across chunks and keeps streams apart', () => {
    const seen: string[] = []
    const cap = new OutputCapture(1000, () => {}, (s, t) => seen.push(`${s}:${t}`))
    const euro = Buffer.from('€', 'utf8')
    cap.push('stdout', euro.subarray(0, 1))
    cap.push('stderr', Buffer.from('err'))
    cap.push('stdout', euro.subarray(1))
    const r = cap.finish()
    expect(r).toEqual({ stdout: '€', stderr: 'err', truncated: false })
    expect(seen).toEqual(['stderr:err', 'stdout:€'])
  })

  test('cuts at the cap across both streams, marks it and calls onLimit once', () => {
    let limits = 0
    const cap = new OutputCapture(10, () => { limits++ })
    cap.push('stdout', Buffer.from('123456'))
    cap.push('stderr', Buffer.from('abcdef'))
    cap.push('stdout', Buffer.from('more'))
    const r = cap.finish()
    expect(limits).toBe(1)
    expect(r.truncated).toBe(true)
    expect(r.stdout).toBe('123456')
    expect(r.stderr).toBe('abcd' + truncationMarker(10))
  })

  test('never emits half a character at the cut', () => {
    const cap = new OutputCapture(4, () => {})
    cap.push('stdout', Buffer.from('ab€'))
    expect(cap.finish().stdout).toBe('ab' + truncationMarker(4))
  })
})
