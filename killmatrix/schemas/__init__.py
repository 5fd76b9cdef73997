"""Vendored JSON schemas.

`mutation-testing-report-schema-3.8.4.json`: the Stryker / mutation-testing-elements report schema,
from the npm package `mutation-testing-report-schema` 3.8.4 (Apache-2.0), file
`dist/src/mutation-testing-report-schema.json`, unchanged.
"""
