// Entry point; loads helper.js from the same directory (CommonJS, no package.json needed).
const { greet, fib } = require('./helper.js')

console.log(greet('world'))
console.log('fib(30) =', fib(30))
