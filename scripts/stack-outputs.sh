# Sourced by the scripts that act on a deployed stack (register-webhooks.sh,
# destroy.sh): `stack_outputs <stack>` reads the stack's outputs once with
# `sam list stack-outputs`; then `output <name>` prints one of them, or stops
# the script naming the output the stack lacks. Bash 3.2 (macOS) compatible.

stack_outputs() {
  outputs=$(sam list stack-outputs --stack-name "$1" --output json)
}

output() { # the stack output named $1
  python3 -c 'import json, sys
name = sys.argv[1]
for o in json.load(sys.stdin):
    if o["OutputKey"] == name:
        print(o["OutputValue"]); break
else:
    sys.exit("the stack has no output %s: deploy this version of the template first" % name)' "$1" <<<"$outputs"
}
