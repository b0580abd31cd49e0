import type { TargetView } from '../api-types.ts';

type Contract = NonNullable<TargetView['contract']>;

/**
 * `.leviathan/contract.yaml` on the target page: repository text, shown as text (React escapes
 * it; no markdown, no HTML). The API has already kept only the documented fields and bounded them.
 */
export function ContractSection({ contract, error }: { contract: TargetView['contract']; error: TargetView['contract_error'] }) {
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" data-testid="contract">
      <h2 className="font-semibold">Contract</h2>
      {error && (
        <p data-testid="contract-error" className="mt-2 whitespace-pre-wrap break-words rounded bg-amber-50 p-2 text-sm text-amber-900">
          ⚠ Invalid contract: {error}
        </p>
      )}
      {contract ? <ContractFields contract={contract} /> : !error && <p className="mt-1 text-sm text-slate-500">No .leviathan/contract.yaml</p>}
    </section>
  );
}

function ContractFields({ contract: c }: { contract: Contract }) {
  const empty = !c.name && !c.purpose && !c.scope && !c.safety && c.definition_of_done.length === 0 && c.quality_gates.length === 0;
  if (empty) return <p className="mt-1 text-sm text-slate-500">.leviathan/contract.yaml sets none of name, purpose, definition_of_done, scope, safety, quality_gates.</p>;
  return (
    <dl className="mt-2 grid gap-x-4 gap-y-2 text-sm sm:grid-cols-[10rem_1fr]">
      <Field label="Name" testId="contract-name" text={c.name} />
      <Field label="Purpose" text={c.purpose} />
      <ListField label="Definition of done" testId="contract-dod" items={c.definition_of_done} />
      <Field label="Scope" text={c.scope} />
      <Field label="Safety" text={c.safety} />
      <ListField label="Quality gates" items={c.quality_gates} />
    </dl>
  );
}

function Field({ label, text, testId }: { label: string; text: string | null; testId?: string }) {
  if (!text) return null;
  return (
    <>
      <dt className="text-slate-500">{label}</dt>
      <dd className="whitespace-pre-wrap break-words" data-testid={testId}>
        {text}
      </dd>
    </>
  );
}

function ListField({ label, items, testId }: { label: string; items: string[]; testId?: string }) {
  if (items.length === 0) return null;
  return (
    <>
      <dt className="text-slate-500">{label}</dt>
      <dd>
        <ul className="list-disc space-y-0.5 pl-5" data-testid={testId}>
          {items.map((item, i) => (
            // Items may repeat; their place in the file is their identity.
            <li key={i} className="whitespace-pre-wrap break-words">
              {item}
            </li>
          ))}
        </ul>
      </dd>
    </>
  );
}
