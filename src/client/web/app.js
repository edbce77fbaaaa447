// The page: one event stream from this node drives the cluster view, the
// jobs list and the event log; the submit panel talks to the JSON API.
import { Cluster } from './cluster.js'
import { Jobs } from './jobs.js'
import { EventLog } from './events.js'
import { Submit } from './submit.js'
import { short } from './util.js'

const $ = (id) => document.getElementById(id)
const cluster = new Cluster($('nodes'))
const jobs = new Jobs($('jobs'), $('jobs-empty'))
const log = new EventLog($('events'))
const submit = new Submit({ form: $('submit-form'), output: $('output'), onSubmitted: () => { jobs.refresh() } })

function header (s) {
  $('cluster-name').textContent = s.cluster
  const m = $('master')
  if (m.dataset.id !== (s.master ?? '')) {
    m.dataset.id = s.master ?? ''
    m.textContent = s.master === null ? 'electing…' : `★ ${short(s.master)}`
    m.title = s.master ?? ''
    m.classList.remove('changed')
    void m.offsetWidth
    m.classList.add('changed')
  }
  $('term').textContent = String(s.term)
  // This node's autoscaler (--autoscale): spawned workers up / most, and its last decision on hover.
  const a = s.autoscale
  $('autoscale-fact').hidden = a === undefined
  if (a !== undefined) {
    $('autoscale').textContent = `${a.spawned.length} / ${a.max} workers${a.pending > 0 ? ' · 1 starting' : ''}`
    $('autoscale').title = a.lastDecision === null ? '' : `${a.lastDecision.action}: ${a.lastDecision.reason}`
  }
  $('nodes-up').textContent = `${s.nodes.filter((n) => n.up).length} / ${s.nodes.length}`
  $('self').textContent = `${short(s.self)} · ${location.host}`
  $('self').title = s.self
  $('submit-target').textContent = `on ${location.host} (node ${short(s.self)})`
  document.title = `meshrun · ${s.nodes.filter((n) => n.up).length} nodes · term ${s.term}`
}

function connect () {
  const conn = $('conn')
  const es = new EventSource('/api/events')
  es.addEventListener('hello', (e) => {
    const h = JSON.parse(e.data)
    header(h.status)
    cluster.init(h.status, h.history)
    log.seed(h.events)
    jobs.refresh()
    conn.dataset.state = 'live'
    conn.textContent = 'live'
  })
  es.addEventListener('status', (e) => {
    const s = JSON.parse(e.data)
    header(s)
    cluster.update(s)
  })
  es.addEventListener('mesh', (e) => {
    const ev = JSON.parse(e.data)
    if (ev.type === 'job') jobs.changed(ev)
    else log.add(ev, true)
  })
  es.onerror = () => {
    conn.dataset.state = 'lost'
    conn.textContent = 'reconnecting'
  }
}

await submit.loadLanguages()
connect()
