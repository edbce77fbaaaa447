const fs = require('fs')
for (const p of process.argv.slice(2)) {
  try { fs.writeFileSync(p, 'meshrun was here\n'); console.log(`${p}: written`) } catch (e) { console.log(`${p}: denied (${e.code})`) }
}
