const fs = require('fs')
for (const p of process.argv.slice(2)) {
  try {
    if (fs.statSync(p).isDirectory()) console.log(`${p}: listed`, fs.readdirSync(p).join(' '))
    else console.log(`${p}: read`, fs.readFileSync(p, 'latin1').replace(/\0/g, ' '))
  } catch (e) {
    console.log(`${p}: denied (${e.code})`)
  }
}
