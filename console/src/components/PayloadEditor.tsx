// The payload of a submit or a revision: a form built from the type's schema when there is one,
// else JSON in a text area. Either way it is an HTML form with the id `formId`, so fields outside
// it (title, approvers) join it with the `form` attribute and the browser checks them together.
import { lazy, Suspense, useState, type ReactNode } from 'react';
import { useI18n } from '../i18n.ts';
import { ErrorBoundary } from './ErrorBoundary.tsx';
import { JsonField, parseJson } from './JsonField.tsx';
import { Loading } from './Loading.tsx';

const SchemaForm = lazy(() => import('./SchemaForm.tsx'));

export interface PayloadEditorProps {
  formId: string;
  schema?: Record<string, unknown> | undefined;
  initial: unknown;
  onSend: (payload: unknown) => void;
  busy: boolean;
  /** The submit button (one per page, with its own test id). */
  button: ReactNode;
  jsonTestId: string;
}

export function PayloadEditor(props: PayloadEditorProps) {
  const { schema } = props;
  const [data, setData] = useState<unknown>(props.initial);
  if (!schema) return <JsonPayload {...props} />;
  return (
    // Where the form builder cannot run (a schema it rejects, a policy forbidding ajv's compiled
    // code), the payload is typed as JSON and the hub checks it.
    <ErrorBoundary fallback={<JsonPayload {...props} />}>
      <Suspense fallback={<Loading />}>
        <SchemaForm formId={props.formId} schema={schema} formData={data} onChange={setData} onSubmit={props.onSend} disabled={props.busy}>
          {props.button}
        </SchemaForm>
      </Suspense>
    </ErrorBoundary>
  );
}

function JsonPayload({ formId, initial, onSend, busy, button, jsonTestId }: PayloadEditorProps) {
  const { t } = useI18n();
  const [text, setText] = useState(() => JSON.stringify(initial ?? {}, null, 2));
  return (
    <form
      id={formId}
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        const parsed = parseJson(text);
        if (parsed.ok) onSend(parsed.value);
      }}
    >
      <JsonField label={t('message.payload')} value={text} onChange={setText} testId={jsonTestId} disabled={busy} />
      {button}
    </form>
  );
}
