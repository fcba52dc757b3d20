#!/usr/bin/env python3
"""Checks what template.yaml lets the function do (cfn-lint checks the syntax, not this).

- The function runs as the template's own role (no SAM managed policies or `Policies`),
  so nothing outside that role grants it anything.
- Every Allow statement in that role names its resources: never "*", never a wildcard
  action (`logs:*`, `s3:*`).
- Log permissions cover only the function's own log group (the PicryptLogGroup the
  function logs to), and the function may not create log groups.
- S3 object permissions cover only the configured prefix of the stack's own bucket;
  listing only under that prefix; no DeleteObject.
- Public mode (FunctionUrlAuthType NONE) is coherent: no bucket, no S3 statement and no
  PICRYPT_BUCKET then (anyone could name keys under the prefix), no CORS on the URL (the
  page calls its own origin), and a rule that refuses it without ReservedConcurrency.
- The fan-out (FanOut step-functions) exists only when asked for, and only with the bucket
  (a rule refuses it in public mode); its definition is its own file whose placeholders
  are exactly the template's substitutions; its role, trusted by Step Functions alone,
  may invoke this function and nothing else, read and write objects only under the
  prefix of the stack's bucket (never delete), and start, describe and stop only its own
  executions.

Usage: python3 tests/template_check.py [template.yaml]   (needs PyYAML: cfn-lint brings it)
"""
import re
import sys
from pathlib import Path

import yaml


class Tag:
    """A CloudFormation intrinsic (!Sub, !GetAtt, !Ref …), kept as tag + value."""

    def __init__(self, tag, value):
        self.tag, self.value = tag, value

    def __eq__(self, other):
        return isinstance(other, Tag) and (self.tag, self.value) == (other.tag, other.value)

    def __repr__(self):
        return f"{self.tag} {self.value!r}"


def construct(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return Tag("!" + suffix, value)


yaml.SafeLoader.add_multi_constructor("!", construct)

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def as_list(x):
    return x if isinstance(x, list) else [x]


def main():
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "template.yaml"
    template = yaml.safe_load(path.read_text())
    resources = template["Resources"]
    functions = {n: r for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    check(len(functions) == 1, f"one function in the template ({', '.join(functions)})")
    (fname, function), = functions.items()
    props = function["Properties"]
    role = props.get("Role")
    check(isinstance(role, Tag) and role.tag == "!GetAtt" and str(role.value).endswith(".Arn"),
          f"{fname} runs as a role of this template (Role: {role!r})")
    check("Policies" not in props, f"{fname} has no SAM policy templates or managed policies")
    role_name = str(role.value).split(".")[0]
    role_res = resources[role_name]
    check(role_res["Type"] == "AWS::IAM::Role", f"{role_name} is an IAM role")
    check(not role_res["Properties"].get("ManagedPolicyArns"), f"{role_name} has no managed policies")

    log_group = props.get("LoggingConfig", {}).get("LogGroup")
    check(isinstance(log_group, Tag) and log_group.tag == "!Ref" and
          resources.get(log_group.value, {}).get("Type") == "AWS::Logs::LogGroup",
          f"{fname} logs to a log group of this template ({log_group!r})")

    # Statements under `!If [HasBucket, STATEMENT, !Ref AWS::NoValue]` exist only with a bucket.
    statements, bucket_only = [], []
    for p in role_res["Properties"].get("Policies", []):
        for s in as_list(p["PolicyDocument"]["Statement"]):
            if isinstance(s, Tag) and s.tag == "!If":
                cond, then, otherwise = s.value
                check(cond == "HasBucket" and otherwise == Tag("!Ref", "AWS::NoValue"),
                      f"a conditional statement exists only with the bucket ({cond})")
                statements.append(then)
                bucket_only.append(then)
            else:
                statements.append(s)

    # Public mode.
    conditions = template.get("Conditions", {})
    check(conditions.get("IsPublicUrl") == Tag("!Equals", [Tag("!Ref", "FunctionUrlAuthType"), "NONE"]),
          "IsPublicUrl is FunctionUrlAuthType NONE")
    check(conditions.get("HasBucket") == Tag("!Not", [Tag("!Condition", "IsPublicUrl")]),
          "HasBucket is exactly: not public")
    for name, res in resources.items():
        if res["Type"].startswith("AWS::S3::"):
            check(res.get("Condition") == "HasBucket", f"{name} exists only with an IAM-authenticated URL")
    check(props["Environment"]["Variables"]["PICRYPT_BUCKET"] ==
          Tag("!If", ["HasBucket", Tag("!Ref", "PicryptBucket"), Tag("!Ref", "AWS::NoValue")]),
          "PICRYPT_BUCKET is unset in public mode")
    check("Cors" not in props["FunctionUrlConfig"], "no CORS on the Function URL: the page calls its own origin")
    rule = template.get("Rules", {}).get("PublicUrlNeedsReservedConcurrency", {})
    check(rule.get("RuleCondition") == Tag("!Equals", [Tag("!Ref", "FunctionUrlAuthType"), "NONE"]) and
          rule.get("Assertions", [{}])[0].get("Assert") ==
          Tag("!Not", [Tag("!Equals", [Tag("!Ref", "ReservedConcurrency"), "0"])]),
          "public mode is refused without ReservedConcurrency")
    check(props.get("ReservedConcurrentExecutions") ==
          Tag("!If", ["HasReservedConcurrency", Tag("!Ref", "ReservedConcurrency"), Tag("!Ref", "AWS::NoValue")]),
          "ReservedConcurrency caps the function")
    check(bool(statements), f"{role_name} has inline statements")
    for s in statements:
        sid = s.get("Sid", "?")
        actions = as_list(s["Action"])
        resources_of = as_list(s.get("Resource"))
        check(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s,
              f"{sid}: a plain Allow")
        check(all("*" not in a for a in actions), f"{sid}: no wildcard action ({', '.join(actions)})")
        check(all(r != "*" for r in resources_of), f"{sid}: no Resource \"*\"")
        services = {a.split(":")[0] for a in actions}
        check(len(services) == 1, f"{sid}: one service ({', '.join(sorted(services))})")
        if services == {"logs"}:
            check("logs:CreateLogGroup" not in actions, f"{sid}: does not create log groups")
            own = "${" + str(log_group.value) + "}"
            check(all(isinstance(r, Tag) and r.tag == "!Sub" and f"log-group:{own}:" in r.value
                      for r in resources_of), f"{sid}: only the function's own log group ({own})")
        elif services == {"s3"}:
            check(any(s is b for b in bucket_only), f"{sid}: only with the bucket (none in public mode)")
            check("s3:DeleteObject" not in actions, f"{sid}: no DeleteObject")
            if "s3:ListBucket" in actions:
                cond = s.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
                check(isinstance(cond, Tag) and cond.value == "${ObjectPrefix}*",
                      f"{sid}: lists only under the prefix")
            else:
                check(all(isinstance(r, Tag) and r.tag == "!Sub" and r.value == "${PicryptBucket.Arn}/${ObjectPrefix}*"
                          for r in resources_of), f"{sid}: objects under the prefix of the stack's bucket only")
        else:
            check(False, f"{sid}: an unexpected service {services}")
    check_fan_out(template, path.parent, fname)
    if failures:
        sys.exit(f"template_check: {len(failures)} failed")
    print("template_check: the function's and the fan-out's permissions are scoped")


def check_fan_out(template, root, fname):
    resources = template["Resources"]
    conditions = template.get("Conditions", {})
    check(conditions.get("HasFanOut") == Tag("!Equals", [Tag("!Ref", "FanOut"), "step-functions"]),
          "HasFanOut is FanOut step-functions")
    check(template["Parameters"]["FanOut"].get("Default") == "none", "the fan-out is opt-in (FanOut defaults to none)")
    rule = template.get("Rules", {}).get("FanOutNeedsTheBucket", {})
    check(rule.get("RuleCondition") == Tag("!Equals", [Tag("!Ref", "FanOut"), "step-functions"]) and
          rule.get("Assertions", [{}])[0].get("Assert") ==
          Tag("!Equals", [Tag("!Ref", "FunctionUrlAuthType"), "AWS_IAM"]),
          "the fan-out is refused in public mode (it needs the bucket)")
    machines = {n: r for n, r in resources.items() if r["Type"] in
                ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")}
    check(len(machines) == 1, f"one state machine ({', '.join(machines)})")
    (mname, machine), = machines.items()
    props = machine["Properties"]
    check(machine.get("Condition") == "HasFanOut", f"{mname} exists only with HasFanOut")
    check("Policies" not in props, f"{mname} has no SAM policy templates or managed policies")

    definition = root / props["DefinitionUri"]
    text = definition.read_text()
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    subs = props.get("DefinitionSubstitutions", {})
    check(placeholders == set(subs), f"{definition.name}: its placeholders are the substitutions ({', '.join(sorted(placeholders))})")
    check(subs.get("FunctionArn") == Tag("!GetAtt", f"{fname}.Arn"), "the state machine invokes this function")
    check(subs.get("Bucket") == Tag("!Ref", "PicryptBucket") and subs.get("Prefix") == Tag("!Ref", "ObjectPrefix"),
          "the state machine reads and writes the stack's bucket under the prefix")
    check(subs.get("MaxConcurrency") == Tag("!Ref", "FanOutMaxConcurrency"), "MaxConcurrency is a parameter")
    check('"Resource": "arn:aws:states:::lambda:invoke"' in text and '"FunctionName": "${FunctionArn}"' in text,
          "each item is a direct invocation of the function")

    role = props.get("Role")
    check(isinstance(role, Tag) and role.tag == "!GetAtt" and str(role.value).endswith(".Arn"),
          f"{mname} runs as a role of this template ({role!r})")
    role_name = str(role.value).split(".")[0]
    role_res = resources[role_name]
    check(role_res["Type"] == "AWS::IAM::Role" and role_res.get("Condition") == "HasFanOut",
          f"{role_name} is an IAM role that exists only with the fan-out")
    check(not role_res["Properties"].get("ManagedPolicyArns"), f"{role_name} has no managed policies")
    trust = as_list(role_res["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    check(len(trust) == 1 and trust[0]["Principal"] == {"Service": "states.amazonaws.com"},
          f"{role_name} is assumed by Step Functions only")
    name = props.get("Name")
    check(isinstance(name, Tag) and name.tag == "!Sub", f"{mname} has a name its role can use ({name!r})")
    statements = [s for p in role_res["Properties"].get("Policies", []) for s in as_list(p["PolicyDocument"]["Statement"])]
    check(bool(statements), f"{role_name} has inline statements")
    for s in statements:
        sid = s.get("Sid", "?")
        actions = as_list(s["Action"])
        targets = as_list(s.get("Resource"))
        check(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s and "Condition" not in s,
              f"{sid}: a plain Allow")
        check(all("*" not in a for a in actions), f"{sid}: no wildcard action ({', '.join(actions)})")
        check(all(r != "*" for r in targets), f"{sid}: no Resource \"*\"")
        services = {a.split(":")[0] for a in actions}
        check(len(services) == 1, f"{sid}: one service ({', '.join(sorted(services))})")
        if services == {"lambda"}:
            check(actions == ["lambda:InvokeFunction"] and targets == [Tag("!GetAtt", f"{fname}.Arn")],
                  f"{sid}: invokes only {fname}")
        elif services == {"s3"}:
            check("s3:DeleteObject" not in actions and "s3:ListBucket" not in actions, f"{sid}: no DeleteObject, no listing")
            check(all(r == Tag("!Sub", "${PicryptBucket.Arn}/${ObjectPrefix}*") for r in targets),
                  f"{sid}: objects under the prefix of the stack's bucket only")
        elif services == {"states"}:
            check(set(actions) <= {"states:StartExecution", "states:DescribeExecution", "states:StopExecution"},
                  f"{sid}: only runs its own executions")
            check(all(isinstance(r, Tag) and r.tag == "!Sub" and
                      (r.value.endswith(":stateMachine:" + name.value) or
                       r.value.endswith(":execution:" + name.value + "/*")) for r in targets),
                  f"{sid}: only this state machine ({name.value}) and its executions")
        else:
            check(False, f"{sid}: an unexpected service {services}")


main()
