//! Nothing here: the system tests are the `api` test target (`tests/api`), and the browser tests
//! are the Node.js project in `tests/e2e`.
