#!/usr/bin/env bash
# The Ansible role (contrib/ansible/roles/bpfpush) on this host, without installing anything of
# bpfpush: the play parses (ansible-playbook --syntax-check); the role's template renders the
# config from its variables into a scratch directory, and the built agent accepts it; its
# validation helper passes a good drop-in and refuses a bad one naming the key, judging the merged
# config (main file and conf.d). The role on a real systemd host: make test-system.
source "$(dirname "$0")/lib.sh"

[[ -x $BPFPUSH_BIN ]] || bail "agent binary $BPFPUSH_BIN exists (run make)"
command -v ansible-playbook >/dev/null || bail "ansible-playbook installed (scripts/install-deps.sh installs ansible-core)"
role=$E2E_ROOT/contrib/ansible/roles
work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
export ANSIBLE_ROLES_PATH=$role ANSIBLE_NOCOLOR=1 ANSIBLE_LOCAL_TEMP=$work/tmp ANSIBLE_HOME=$work/home LC_ALL=C.UTF-8

out=$(ansible-playbook --syntax-check -i localhost, -c local "$E2E_ROOT/tests/system/playbook.yml" 2>&1)
rc=$?
log "$out"
tap_ok "the system test's play with the role parses" test "$rc" -eq 0

# Render the role's template and drop-in content with its defaults and one override.
cat >"$work/render.yml" <<YML
- hosts: localhost
  gather_facts: false
  vars_files: [$role/bpfpush/defaults/main.yml]
  tasks:
    - ansible.builtin.template: { src: $role/bpfpush/templates/bpfpush.yaml.j2, dest: $work/etc/bpfpush.yaml, mode: "0644" }
    - ansible.builtin.copy:
        content: "# Managed by Ansible (role bpfpush).\n{{ item.value | to_nice_yaml(indent=2) }}"
        dest: "$work/etc/conf.d/{{ item.key }}.yaml"
        mode: "0644"
      loop: "{{ bpfpush_dropins | dict2items }}"
YML
mkdir -p "$work/etc/conf.d"
out=$(ansible-playbook -i localhost, -c local "$work/render.yml" \
	-e '{"bpfpush_global": {"interval": "2s"}, "bpfpush_dropins": {"50-dcstat": {"modules": {"dcstat": {"enabled": true}}}}}' 2>&1)
rc=$?
log "$out"
tap_ok "the role renders bpfpush.yaml and a drop-in from its variables" test "$rc" -eq 0 -a -s "$work/etc/bpfpush.yaml"
log "$(cat "$work/etc/bpfpush.yaml")"
tap_ok "the rendered config has the override and the default sink" \
	sh -c "grep -q 'interval: 2s' '$work/etc/bpfpush.yaml' && grep -q 'udp://127.0.0.1:8125' '$work/etc/bpfpush.yaml'"
tap_ok "bpfpush -t accepts the rendered config with its drop-in" "$BPFPUSH_BIN" -t -c "$work/etc/bpfpush.yaml"

validate() { BPFPUSH_CONFIG_DIR=$work/etc BPFPUSH=$BPFPUSH_BIN BPFPUSH_VALIDATE_TMP=$work \
	sh "$role/bpfpush/files/bpfpush-validate" "$@"; }
printf 'modules:\n  disk: { enabled: true }\n' >"$work/good.yaml"
tap_ok "the validation helper passes a good drop-in" validate 60-disk.yaml "$work/good.yaml"
printf 'modules:\n  disk: { enabled: maybe }\n' >"$work/bad.yaml"
out=$(validate 60-disk.yaml "$work/bad.yaml" 2>&1)
rc=$?
log "$out"
tap_ok "it refuses a bad drop-in with FILE:LINE:COL and the key" \
	sh -c "[ $rc -ne 0 ] && printf '%s' \"\$1\" | grep -q 'conf.d/60-disk.yaml:2:[0-9]*: modules.disk.enabled'" _ "$out"
# A drop-in that is valid alone but not with the main file: its module interval is not a
# multiple of the main file's global.interval (2s).
printf 'modules:\n  disk: { interval: 3s }\n' >"$work/merged-bad.yaml"
out=$(validate 60-disk.yaml "$work/merged-bad.yaml" 2>&1)
rc=$?
log "$out"
tap_ok "it judges the merged config (a module interval not a multiple of the main file's 2s)" test "$rc" -ne 0
printf 'global:\n  interval: soon\n' >"$work/bad-main.yaml"
out=$(validate main "$work/bad-main.yaml" 2>&1)
rc=$?
log "$out"
tap_ok "it refuses a bad main file naming global.interval" sh -c "[ $rc -ne 0 ] && printf '%s' \"\$1\" | grep -q 'global.interval'" _ "$out"
tap_done
