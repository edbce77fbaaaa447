// Jobs submitted to this node, newest first; a click shows a job's output.
import { api, clock, el, ms, short, statusClass, statusText } from './util.js'

export class Jobs {
  constructor (body, empty) {
    this.body = body
    this.empty = empty
    this.open = null
    this.details = new Map() // id -> job view (finished jobs only)
    this.timer = null
  }

  /** A job event: refresh soon (several events often come together). */
  changed (ev) {
    if (ev.state === 'done') this.details.delete(ev.id)
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.refresh() }, 150)
  }

  async refresh () {
    let list
    try { list = await api('/api/jobs?limit=40') } catch { return }
    this.empty.hidden = list.jobs.length > 0
    const rows = []
    for (const j of list.jobs) {
      const state = j.status ?? (j.state === 'queued' && j.position !== null ? 'queued' : j.state)
      const label = j.status !== null ? statusText(j.status) : j.state === 'queued' && j.position !== null ? `queued #${j.position}` : j.state
      rows.push(el('tr', { class: `job${this.open === j.id ? ' open' : ''}`, dataset: { id: j.id }, onclick: () => { this.toggle(j.id) } },
        el('td', {}, clock(j.acceptedAt)),
        el('td', { title: j.id }, j.id.length > 14 ? `${j.id.slice(0, 12)}…` : j.id),
        el('td', {}, j.language),
        el('td', {}, el('span', { class: `status ${statusClass(state)}` }, label)),
        el('td', { title: j.node ?? '' }, short(j.node)),
        el('td', {}, ms(j.elapsedMs)),
      ))
      if (this.open === j.id) rows.push(await this.detail(j.id))
    }
    this.body.replaceChildren(...rows)
    // Queue positions and running times change without events: poll while any job is unfinished.
    if (list.jobs.some((j) => j.state !== 'done')) {
      clearTimeout(this.timer)
      this.timer = setTimeout(() => { this.refresh() }, 1000)
    }
  }

  async toggle (id) {
    this.open = this.open === id ? null : id
    await this.refresh()
  }

  async detail (id) {
    let job = this.details.get(id)
    if (job === undefined) {
      try { job = await api(`/api/jobs/${encodeURIComponent(id)}`) } catch (err) { return row(el('p', { class: 'empty' }, String(err.message))) }
      if (job.state === 'done') this.details.set(id, job)
    }
    const r = job.result
    const parts = []
    if (r !== null && r.message) parts.push(el('p', { class: 'empty' }, `${statusText(r.status)}: ${r.message}`))
    const compile = r?.compile ?? null
    if (compile !== null && (compile.stdout + compile.stderr) !== '') parts.push(el('pre', { class: 'output' }, el('span', { class: 'compile' }, compile.stdout + compile.stderr)))
    const run = r?.run ?? null
    const out = run !== null ? { stdout: run.stdout, stderr: run.stderr } : job.output.run
    parts.push(el('pre', { class: 'output' }, out.stdout, out.stderr === '' ? null : el('span', { class: 'stderr' }, out.stderr)))
    const facts = [`job ${id}`, `node ${short(job.node)}`, `attempts ${job.attempts}`]
    if (r !== null) facts.push(`queued ${ms(r.queuedMs)}`, `total ${ms(r.totalMs)}`, run ? `exit ${run.code ?? run.signal}` : 'not run')
    parts.unshift(el('p', { class: 'empty' }, facts.join(' · ')))
    return row(...parts)
  }
}

const row = (...children) => el('tr', { class: 'detail' }, el('td', { colspan: 6 }, ...children))
