function greet(name) {
  return `Hello, ${name}!`
}

function fib(n) {
  let [a, b] = [0, 1]
  for (let i = 0; i < n; i++) [a, b] = [b, a + b]
  return a
}

module.exports = { greet, fib }
