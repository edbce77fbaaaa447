console.log('Hello, world!')
