// A payload form built from the message type's JSON Schema (@rjsf), checked as people type by
// schema-validator.ts (ajv cannot run under the hub's Content-Security-Policy; see there). Loaded
// on demand: the form builder is the console's largest part after the layout engine.
// Its submit button is the caller's (`children`), so a page keeps one button with one test id.
import Form from '@rjsf/core';
import type { RJSFSchema } from '@rjsf/utils';
import type { ReactNode } from 'react';
import { schemaValidator } from './schema-validator.ts';

export default function SchemaForm({ formId, schema, formData, onChange, onSubmit, disabled, children }: {
  formId: string;
  schema: Record<string, unknown>;
  formData: unknown;
  onChange: (data: unknown) => void;
  onSubmit: (data: unknown) => void;
  disabled?: boolean;
  children: ReactNode;
}) {
  return (
    <div className="schema-form" data-testid="submit-schema-form">
      <Form
        id={formId}
        schema={schema as RJSFSchema}
        validator={schemaValidator}
        formData={formData}
        disabled={disabled ?? false}
        showErrorList="top"
        onChange={(e) => onChange(e.formData)}
        onSubmit={(e) => onSubmit(e.formData)}
      >
        {children}
      </Form>
    </div>
  );
}
