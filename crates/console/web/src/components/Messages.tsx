// What the page shows instead of a blank area: loading, a backend error, no data.
import { Bullseye, Button, EmptyState, EmptyStateActions, EmptyStateBody, EmptyStateFooter, Spinner } from '@patternfly/react-core';
import { ExclamationCircleIcon, SearchIcon } from '@patternfly/react-icons';

/** A backend error, with the backend's own message and a retry button. */
export function ErrorMessage({ error, what, retry }: { error: Error; what: string; retry?: () => void }) {
  return (
    <EmptyState status="danger" icon={ExclamationCircleIcon} titleText={`Cannot load ${what}`} headingLevel="h3" data-test="error-state">
      <EmptyStateBody>
        <span data-test="error-message">{error.message}</span>
      </EmptyStateBody>
      {retry && (
        <EmptyStateFooter>
          <EmptyStateActions>
            <Button variant="primary" onClick={retry}>
              Try again
            </Button>
          </EmptyStateActions>
        </EmptyStateFooter>
      )}
    </EmptyState>
  );
}

/** No data for the current filters and time range. */
export function NoResults({ what, clear }: { what: string; clear?: () => void }) {
  return (
    <EmptyState icon={SearchIcon} titleText={`No ${what}`} headingLevel="h3" data-test="empty-state">
      <EmptyStateBody>
        Nothing matches the current filters and time range. Widen the time range, remove a filter or a quick filter, or check that flows are
        being collected.
      </EmptyStateBody>
      {clear && (
        <EmptyStateFooter>
          <EmptyStateActions>
            <Button variant="link" onClick={clear}>
              Clear all filters
            </Button>
          </EmptyStateActions>
        </EmptyStateFooter>
      )}
    </EmptyState>
  );
}

/** Loading. */
export function Loading({ what }: { what: string }) {
  return (
    <Bullseye style={{ minHeight: '12rem' }}>
      <Spinner aria-label={`Loading ${what}`} />
    </Bullseye>
  );
}
