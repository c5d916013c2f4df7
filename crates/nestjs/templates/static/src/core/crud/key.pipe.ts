import { BadRequestException, type PipeTransform } from '@nestjs/common';
import { scalarValue } from './query.js';
import type { ResourceSpec } from './resource.js';

/** Checks a key path parameter against its column type: a malformed id is a 400, never SQL. */
export class KeyPipe implements PipeTransform<string, string> {
  constructor(
    private readonly spec: ResourceSpec,
    private readonly property: string,
  ) {}

  transform(value: string): string {
    const field = this.spec.fields.find((f) => f.property === this.property);
    if (!field) throw new BadRequestException(`unknown key ${this.property}`);
    return scalarValue(field, value, `path parameter ${this.property}`);
  }
}
