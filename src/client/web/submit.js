// The submit panel: a file name, a language (from the extension, or chosen),
// an editor, uploads, stdin and args. While the job waits a timer counts and
// its queue position shows; its output streams in as the program writes it.
import { api, el, ms, short, statusText } from './util.js'

const TEMPLATES = {
  python: 'print("Hello, world!")\n',
  c: '#include <stdio.h>\n\nint main(void) {\n    printf("Hello, world!\\n");\n    return 0;\n}\n',
  cpp: '#include <iostream>\n\nint main() {\n    std::cout << "Hello, world!" << std::endl;\n}\n',
  java: 'public class Main {\n    public static void main(String[] args) {\n        System.out.println("Hello, world!");\n    }\n}\n',
  js: 'console.log("Hello, world!")\n',
  calc: '6 * 7\n',
}

export class Submit {
  constructor ({ form, output, onSubmitted }) {
    this.form = form
    this.out = output
    this.onSubmitted = onSubmitted
    this.f = form.elements
    this.languages = []
    this.extra = [] // uploaded files beyond the first: { name, content }
    this.tick = null
    this.events = null
    form.addEventListener('submit', (e) => { e.preventDefault(); void this.run() })
    this.f.filename.addEventListener('input', () => { this.fromExtension() })
    this.f.language.addEventListener('change', () => { this.languageChosen() })
    this.f.upload.addEventListener('change', () => { void this.upload() })
    this.f.editor.addEventListener('keydown', (e) => { this.keys(e) })
    form.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); void this.run() } })
  }

  async loadLanguages () {
    try { this.languages = await api('/api/languages') } catch { this.languages = [] }
    this.f.language.replaceChildren(...this.languages.map((l) => el('option', { value: l.name, disabled: !l.available }, l.version ? `${l.name} ${l.version}` : l.name)))
    this.f.language.value = 'python'
    this.f.editor.value = TEMPLATES.python
  }

  languageOf (name) {
    const dot = name.lastIndexOf('.')
    if (dot <= 0) return undefined
    const ext = name.slice(dot).toLowerCase()
    return this.languages.find((l) => l.extensions.includes(ext))?.name
  }

  fromExtension () {
    const lang = this.languageOf(this.f.filename.value)
    if (lang !== undefined) this.f.language.value = lang
  }

  languageChosen () {
    const lang = this.languages.find((l) => l.name === this.f.language.value)
    if (lang === undefined) return
    const name = this.f.filename.value
    if (this.languageOf(name) !== lang.name) {
      const base = lang.name === 'java' ? 'Main' : (name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : name) || 'main'
      this.f.filename.value = `${base === 'Main' && lang.name !== 'java' ? 'main' : base}${lang.extensions[0]}`
    }
    const text = this.f.editor.value
    if (text.trim() === '' || Object.values(TEMPLATES).includes(text)) this.f.editor.value = TEMPLATES[lang.name] ?? ''
  }

  async upload () {
    const files = [...this.f.upload.files]
    if (files.length === 0) return
    const read = await Promise.all(files.map(async (f) => ({ name: f.name, content: await f.text() })))
    this.f.filename.value = read[0].name
    this.f.editor.value = read[0].content
    this.extra = read.slice(1)
    this.fromExtension()
    this.showExtra()
    this.f.upload.value = ''
  }

  showExtra () {
    const box = document.getElementById('extra-files')
    box.replaceChildren(...this.extra.map((f, i) => el('span', {}, f.name, el('button', { type: 'button', title: 'remove', onclick: () => { this.extra.splice(i, 1); this.showExtra() } }, '×'))))
  }

  keys (e) {
    if (e.key !== 'Tab' || e.shiftKey) return
    e.preventDefault()
    const t = e.target
    t.setRangeText('    ', t.selectionStart, t.selectionEnd, 'end')
  }

  state (text, cls = '') {
    const s = document.getElementById('run-state')
    s.textContent = text
    s.className = `run-state ${cls}`
  }

  write (text, cls) {
    if (text === '') return
    this.out.append(cls ? el('span', { class: cls }, text) : text)
    this.out.scrollTop = this.out.scrollHeight
  }

  async run () {
    if (this.f.run.disabled) return
    this.events?.close()
    this.out.replaceChildren()
    const spec = {
      language: this.f.language.value,
      files: [{ name: this.f.filename.value.trim(), content: this.f.editor.value }, ...this.extra],
      stdin: this.f.stdin.value,
      args: this.f.args.value.trim() === '' ? [] : this.f.args.value.trim().split(/\s+/),
    }
    this.f.run.disabled = true
    const started = performance.now()
    const timer = document.getElementById('timer')
    clearInterval(this.tick)
    this.tick = setInterval(() => { timer.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s` }, 100)
    this.state('submitting…')
    let id
    try {
      ({ id } = await api('/api/jobs', { method: 'POST', body: JSON.stringify(spec) }))
    } catch (err) {
      this.finish(`✗ ${err.message}`, 'bad')
      return
    }
    this.onSubmitted()
    this.state('waiting for a worker…')
    this.follow(id)
  }

  follow (id) {
    const es = new EventSource(`/api/jobs/${encodeURIComponent(id)}/events`)
    this.events = es
    const streamed = { compile: false, run: false }
    const on = (name, fn) => es.addEventListener(name, (e) => { fn(JSON.parse(e.data)) })
    // Each connection replays the job from its start: after a reconnect, start the output over.
    let connections = 0
    on('job', () => {
      if (connections++ > 0) { this.out.replaceChildren(); streamed.compile = false; streamed.run = false }
    })
    on('queued', (e) => { this.state(`queued · position ${e.position}`) })
    on('started', (e) => { this.state(`${e.stage === 'compile' ? 'compiling' : 'running'} on ${short(e.node)}`) })
    on('output', (e) => {
      streamed[e.stage] = true
      this.write(e.data, e.stage === 'compile' ? 'compile' : e.stream === 'stderr' ? 'stderr' : '')
    })
    on('result', (e) => {
      es.close()
      const r = e.result
      if (!streamed.compile && r.compile !== null) this.write(r.compile.stdout + r.compile.stderr, 'compile')
      if (!streamed.run && r.run !== null) { this.write(r.run.stdout); this.write(r.run.stderr, 'stderr') }
      const ok = r.status === 'ok'
      const facts = [statusText(r.status), r.message, `on ${short(r.node)}`, r.run !== null ? `run ${ms(r.run.wallMs)}` : null, r.compile?.cached ? 'compile cached' : null]
      this.finish(`${ok ? '✓' : '✗'} ${facts.filter(Boolean).join(' · ')}`, ok ? 'ok' : 'bad')
      this.onSubmitted()
    })
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) this.finish('✗ lost the connection to this node', 'bad')
      else this.state('connection lost, reconnecting…')
    }
  }

  finish (text, cls) {
    clearInterval(this.tick)
    this.state(text, cls)
    this.f.run.disabled = false
  }
}
