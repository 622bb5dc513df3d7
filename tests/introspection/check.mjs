// What every standard GraphQL client does first: graphql-js's introspection query, as GraphiQL's
// Docs, graphql-codegen, Apollo and IDE plugins send it. Each variant must pass the server's
// default limits and rebuild a schema equal to the checked-in schema.graphql.
//
//   node check.mjs http://127.0.0.1:8080/graphql ../../schema.graphql
import { readFileSync } from "node:fs";
import {
  GraphQLSchema,
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from "graphql";

const [url, sdlPath] = process.argv.slice(2);
const here = new URL(".", import.meta.url);
const print = (schema) => printSchema(lexicographicSortSchema(schema));
const expected = print(buildSchema(readFileSync(sdlPath, "utf8")));

const variants = [
  ["default (GraphiQL, codegen, Apollo)", {}, "introspection-default.graphql"],
  [
    "every option",
    {
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
    },
    "introspection-every-option.graphql",
  ],
];

let failed = false;
for (const [name, options, file] of variants) {
  const query = getIntrospectionQuery(options);
  // The Rust suite sends the checked-in copies; they must be what graphql-js sends.
  if (readFileSync(new URL(file, here), "utf8") !== query) {
    console.error(`${file} is not graphql-js's ${name} introspection query; regenerate it`);
    failed = true;
  }
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/graphql-response+json" },
    body: JSON.stringify({ query, operationName: "IntrospectionQuery" }),
  });
  const body = await response.json();
  if (response.status !== 200 || body.errors) {
    console.error(`${name}: HTTP ${response.status}`, JSON.stringify(body.errors ?? body));
    failed = true;
    continue;
  }
  // async-graphql answers `__schema { description }` with the __Schema type's own description
  // (the schema itself has none); the SDL has no schema description to compare it with.
  const client = buildClientSchema(body.data);
  const rebuilt = print(new GraphQLSchema({ ...client.toConfig(), description: undefined }));
  // A client that does not ask for `specifiedByURL` cannot know it.
  const wanted = options.specifiedByUrl ? expected : expected.replace(/ @specifiedBy\(url: "[^"]*"\)/g, "");
  if (rebuilt !== wanted) {
    const [a, b] = [rebuilt.split("\n"), wanted.split("\n")];
    const at = a.findIndex((line, i) => line !== b[i]);
    console.error(`${name}: the rebuilt schema differs from schema.graphql at line ${at + 1}:`);
    console.error("  introspection:", JSON.stringify(a.slice(at, at + 3)));
    console.error("  schema.graphql:", JSON.stringify(b.slice(at, at + 3)));
    failed = true;
    continue;
  }
  console.log(`${name}: ${Object.keys(body.data.__schema.types).length} types, equal to schema.graphql`);
}
process.exit(failed ? 1 : 0);
