// Sums the numbers on stdin (whitespace separated), then echoes its arguments.
const fs = require('fs')

const words = fs.readFileSync(0, 'utf8').split(/\s+/).filter((w) => w !== '')
const total = words.reduce((sum, w) => sum + Number(w), 0)
console.log(total)
console.log(['args:', ...process.argv.slice(2)].join(' '))
