// Validates the fan-out state machine (statemachine/fanout.asl.json) with asl-validator,
// the definition as CloudFormation makes it: template.yaml's DefinitionSubstitutions put
// in (sample values of the right types; tests/template_check.py checks that the template
// substitutes exactly these names). Then shows the check can fail: variants with a known
// mistake must be refused.
// Usage: node tests/asl/check.mjs   (after `npm ci --prefix tests/asl`; tests/run.sh runs it)
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const validate = require("asl-validator");
const path = new URL("../../statemachine/fanout.asl.json", import.meta.url);

const substitutions = {
  FunctionArn: "arn:aws:lambda:eu-west-1:123456789012:function:picrypt-PicryptFunction-AbC123",
  Bucket: "picrypt-picryptbucket-0123456789ab",
  Prefix: "picrypt/",
  MaxConcurrency: "10",
  ToleratedFailurePercentage: "10",
};

function definition() {
  const text = readFileSync(path, "utf8").replace(/\$\{(\w+)\}/g, (whole, name) => {
    if (!(name in substitutions)) throw new Error(`${path.pathname}: no substitution for ${whole}`);
    return substitutions[name];
  });
  return JSON.parse(text);
}

let failures = 0;
function expect(what, def, valid) {
  const result = validate(def, { checkPaths: true, checkArn: true });
  const ok = result.isValid === valid;
  console.log(`${ok ? "ok  " : "FAIL"}  ${what}${result.isValid ? "" : ": " + result.errorsText("; ")}`);
  if (!ok) failures++;
}

expect("statemachine/fanout.asl.json is valid Amazon States Language", definition(), true);

const processor = (d) => d.States.Pairs.ItemProcessor.States;
const broken = [
  ["a state that goes nowhere", (d) => { delete processor(d).Subtract.Next; }],
  ["a transition to a missing state", (d) => { processor(d).Answered.Default = "Nowhere"; }],
  ["a malformed path", (d) => { processor(d).Subtract.ResultPath = "invocation"; }],
  ["a Map without an ItemProcessor", (d) => { delete d.States.Pairs.ItemProcessor; }],
  ["a concurrency that is not a number", (d) => { d.States.Pairs.MaxConcurrency = "10"; }],
];
for (const [what, mutate] of broken) {
  const d = definition();
  mutate(d);
  expect(`refused: ${what}`, d, false);
}
if (failures) {
  console.error(`tests/asl/check.mjs: ${failures} failed`);
  process.exit(1);
}
console.log("tests/asl/check.mjs: the state machine definition is valid, and the validator refuses broken ones");
