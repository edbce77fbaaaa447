import { describe, expect, test } from 'vitest'
import { expandCommand, javaMainClass, javaPublicType, languageForFile, layoutFiles, LANGUAGES, resolveLanguage } from '../../src/exec/languages.ts'
import { files } from './helpers.ts'

describe('resolveLanguage', () => {
  test.each([
    ['python', 'python'], ['py', 'python'], ['Python3', 'python'],
    ['c', 'c'], ['cpp', 'cpp'], ['c++', 'cpp'], ['java', 'java'],
    ['js', 'js'], ['javascript', 'js'], ['node', 'js'], ['calc', 'calc'],
  ])('%s → %s', (alias, name) => {
    expect(resolveLanguage(alias)?.name).toBe(name)
  })

  test('unknown names', () => {
    expect(resolveLanguage('cobol')).toBeUndefined()
    expect(resolveLanguage('')).toBeUndefined()
  })

  test('every name and alias is unique', () => {
    const keys = LANGUAGES.flatMap((l) => [l.name, ...l.aliases])
    expect(new Set(keys).size).toBe(keys.length)
  })
})

describe('languageForFile', () => {
  test.each([
    ['a.py', 'python'], ['dir/x.c', 'c'], ['x.h', 'c'], ['x.cpp', 'cpp'], ['x.cc', 'cpp'], ['x.hpp', 'cpp'],
    ['Main.java', 'java'], ['a.js', 'js'], ['a.mjs', 'js'], ['a.calc', 'calc'], ['A.PY', 'python'],
  ])('%s → %s', (file, name) => {
    expect(languageForFile(file)).toBe(name)
  })

  test.each(['Makefile', '.py', 'a.txt', 'noext'])('%s → undefined', (file) => {
    expect(languageForFile(file)).toBeUndefined()
  })
})

describe('Java conventions', () => {
  test('runs the class declaring main, with its package', () => {
    const f = files(
      ['Util.java', 'public class Util { static int two() { return 2; } }'],
      ['app/Main.java', 'package app;\n// public static void main(String[] a) in a comment\nclass Main { static class Inner {} public static void main(String[] a) {} }'],
    )
    expect(javaMainClass(f)).toBe('app.Main')
  })

  test('the first file wins when several declare main', () => {
    const f = files(['B.java', 'class B { public static void main(String[] a) {} }'], ['A.java', 'class A { public static void main(String[] a) {} }'])
    expect(javaMainClass(f)).toBe('B')
  })

  test('a nested class with main is Outer$Inner', () => {
    expect(javaMainClass(files(['O.java', 'class O { static class I { public static void main(String[] a) {} } }']))).toBe('O$I')
  })

  test('a public class is written to a file of its name', () => {
    expect(javaPublicType('/* public class Nope */ public final class Hello { class X {} }')).toBe('Hello')
    const java = resolveLanguage('java')!
    expect(layoutFiles(java, files(['hello.java', 'public class Hello {}'], ['b.java', 'class B {}'])).map((f) => f.name)).toEqual(['Hello.java', 'b.java'])
  })
})

describe('expandCommand', () => {
  test('C compiles every .c file, not headers', () => {
    const c = resolveLanguage('c')!
    const argv = expandCommand(c, c.compile!.argv, { tools: { cc: '/usr/bin/gcc' }, memoryMb: 64, files: files(['main.c', ''], ['util.h', ''], ['util.c', '']) })
    expect(argv[0]).toBe('/usr/bin/gcc')
    expect(argv).toContain('main.c')
    expect(argv).toContain('util.c')
    expect(argv).not.toContain('util.h')
    expect(argv).toContain('-I.')
  })

  test('runtimes get their heap flag and the arguments last', () => {
    const js = resolveLanguage('js')!
    expect(expandCommand(js, js.run.argv, { tools: { node: '/usr/bin/node' }, memoryMb: 128, files: files(['a.js', '']), args: ['-x', 'y'] }))
      .toEqual(['/usr/bin/node', '--max-old-space-size=128', 'a.js', '-x', 'y'])
    const java = resolveLanguage('java')!
    const argv = expandCommand(java, java.run.argv, { tools: { java: '/j', javac: '/jc' }, memoryMb: 64, files: files(['Main.java', 'class Main { public static void main(String[] a) {} }']), args: ['z'] })
    expect(argv).toContain('-Xmx64m')
    expect(argv).toContain('-XX:+UseSerialGC')
    expect(argv.slice(-2)).toEqual(['Main', 'z'])
  })
})
