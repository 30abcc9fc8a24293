// The SLA editor: max lag and warn after, or a cron deadline with its time
// zone, and grace. Saving PUTs the policy; the page's own checks run first,
// and the API's 400 message shows next to the field it names. Removing a
// run-time SLA DELETEs it (the file's policy applies again).
import { useState, type FormEvent } from "react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, ApiError } from "../api";
import { fieldOf, formFromPolicy, policyFromForm, validate, type Errors, type Field, type SlaForm } from "../lib/sla";
import type { EffectivePolicy } from "../types";

const help: Record<Field, string> = {
  max_lag: "how old the data may be, e.g. 2h or 1d12h (optional with a cron)",
  warn_after: "WARN from this age on, under max_lag",
  cron: "deadline: minute hour day month weekday, e.g. 0 7 * * *",
  timezone: "of the cron, e.g. Europe/Paris (default UTC)",
  grace: "how long a never-materialized asset stays UNKNOWN before FAIL",
};

export function SlaEditor({ assetKey, current, onDone }: { assetKey: string; current?: EffectivePolicy; onDone?: () => void }) {
  const [form, setForm] = useState<SlaForm>(() => formFromPolicy(current?.policy));
  const [errors, setErrors] = useState<Errors>({});
  const [saved, setSaved] = useState("");
  const qc = useQueryClient();
  const refresh = () => {
    qc.invalidateQueries({ queryKey: ["freshness"] });
    qc.invalidateQueries({ queryKey: ["asset-freshness", assetKey] });
    qc.invalidateQueries({ queryKey: ["asset", assetKey] });
  };
  const onError = (err: unknown) => {
    if (err instanceof ApiError) setErrors({ [fieldOf(err.field)]: err.message });
    else setErrors({ form: String(err) });
  };
  const put = useMutation({
    mutationFn: () => api.putPolicy(assetKey, { ...policyFromForm(form), actor: "ui" }),
    onSuccess: () => {
      setSaved("SLA saved.");
      refresh();
    },
    onError,
  });
  const del = useMutation({
    mutationFn: () => api.deletePolicy(assetKey, "ui"),
    onSuccess: () => {
      setSaved("Run-time SLA removed; the file's policy applies again.");
      refresh();
    },
    onError,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved("");
    const errs = validate(form);
    setErrors(errs);
    if (Object.keys(errs).length === 0) put.mutate();
  };
  const input = (f: Field, placeholder: string) => {
    const id = `sla-${f}`;
    return (
      <label className="field" key={f}>
        <span className="name">{f}</span>
        <input
          id={id} name={f} value={form[f]} placeholder={placeholder} aria-invalid={errors[f] ? true : undefined}
          aria-describedby={`${id}-help${errors[f] ? ` ${id}-error` : ""}`}
          onChange={(e) => setForm({ ...form, [f]: e.target.value })}
        />
        <span className="hint" id={`${id}-help`}>{help[f]}</span>
        {errors[f] && <span className="field-error" id={`${id}-error`} role="alert" data-field-error={f}>{errors[f]}</span>}
      </label>
    );
  };
  return (
    <form className="editor" onSubmit={submit} aria-label={`Freshness SLA of ${assetKey}`} noValidate>
      <div className="row" role="radiogroup" aria-label="Kind of SLA">
        <label><input type="radio" name="mode" checked={form.mode === "lag"} onChange={() => setForm({ ...form, mode: "lag" })} /> max lag</label>
        <label><input type="radio" name="mode" checked={form.mode === "cron"} onChange={() => setForm({ ...form, mode: "cron" })} /> cron deadline</label>
        {current && <span className="hint">in force: {current.source === "api" ? "set at run time" : "from freshet.yaml"}</span>}
      </div>
      <div className="fields">
        {input("max_lag", "2h")}
        {form.mode === "lag" && input("warn_after", "90m")}
        {form.mode === "cron" && input("cron", "0 7 * * *")}
        {form.mode === "cron" && input("timezone", "Europe/Paris")}
        {input("grace", "")}
      </div>
      {errors.form && <div className="error-box" role="alert">{errors.form}</div>}
      {saved && <div className="ok-box" role="status">{saved}</div>}
      <div className="row">
        <button type="submit" className="primary" disabled={put.isPending}>{put.isPending ? "Saving…" : "Save SLA"}</button>
        {current?.source === "api" && (
          <button type="button" className="danger" disabled={del.isPending} onClick={() => { setSaved(""); setErrors({}); del.mutate(); }}>
            Remove run-time SLA
          </button>
        )}
        {onDone && <button type="button" onClick={onDone}>Close</button>}
      </div>
    </form>
  );
}
