// Elections and membership changes, newest first, as this node saw them.
import { clock, el, short } from './util.js'

function describe (e) {
  if (e.type === 'election') {
    if (e.kind === 'became-master') return ['election', `★ this node became master (term ${e.term})`]
    if (e.kind === 'stepped-down') return ['election', `this node stepped down (term ${e.term})`]
    return ['election', `term ${e.term}: master is ${short(e.master)}`]
  }
  if (e.type === 'autoscale') {
    if (e.action === 'spawn') return ['autoscale', `autoscale: starting a worker — ${e.reason}`]
    if (e.action === 'joined') return ['up', `autoscale: worker ${short(e.id)} joined`]
    if (e.action === 'failed' || e.action === 'abandon') return ['down', `autoscale ${e.action}: ${e.reason}`]
    if (e.action === 'at-max') return ['autoscale', `autoscale: ${e.reason}`]
    return null
  }
  if (e.type === 'peer') return e.up ? ['up', `node ${short(e.id)} joined`] : ['down', `node ${short(e.id)} is down`]
  return null
}

export class EventLog {
  constructor (root) {
    this.root = root
  }

  seed (events) {
    this.root.replaceChildren()
    for (const e of events) this.add(e, false)
  }

  add (e, fresh) {
    const d = describe(e)
    if (d === null) return
    const li = el('li', { class: fresh ? 'fresh' : '', dataset: { kind: e.type } }, el('time', {}, clock(e.at)), el('span', { class: d[0] }, d[1]))
    this.root.prepend(li)
    while (this.root.children.length > 100) this.root.lastChild.remove()
  }
}
