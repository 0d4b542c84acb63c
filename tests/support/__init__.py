"""What the tests share that is not a fixture: waiting, a recording comm, the test
servers written from the documents, widget message readers and Node.js lookups."""
